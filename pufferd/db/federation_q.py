"""Query functions for federation (migrations 0080, 0089): remote actors, actor keys (of users and
of the instance actor), the delivery queue, incoming activity ids, follows and the domain list
(synchronous, inside db.read/db.write)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import apsw

from pufferd.db import users_q
from pufferd.db.users_q import User


@dataclass(frozen=True, slots=True)
class RemoteActor:
    user_id: int
    actor_url: str
    host: str
    inbox: str
    shared_inbox: str | None
    key_id: str
    public_key_pem: str
    fetched_at: float
    icon_url: str | None = None  # of its actor document; the avatar is this server's copy (0092)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    sender_id: int
    inbox: str
    host: str
    activity: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: float
    last_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    created_at: float

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Delivery:
        return cls(**{**row, "activity": json.loads(row["activity"])})


def _one(conn: apsw.Connection, sql: str, params: Any) -> dict[str, Any]:
    """The row of a statement that always returns one (an aggregate, an INSERT ... RETURNING)."""
    return cast(dict[str, Any], conn.execute(sql, params).fetchone())


def _actor(row: dict[str, Any] | None) -> RemoteActor | None:
    return RemoteActor(**row) if row is not None else None


# local actor keys ----------------------------------------------------------------------------------
def keys(conn: apsw.Connection, user_id: int) -> tuple[str, str] | None:
    """(public key PEM, sealed private key) of a local user, None before the first use."""
    row = conn.execute("SELECT public_key_pem, private_key_sealed FROM federation_keys WHERE user_id = ?",
                       (user_id,)).fetchone()
    return (row["public_key_pem"], row["private_key_sealed"]) if row else None


def insert_keys(conn: apsw.Connection, user_id: int, public_pem: str, sealed: str, now: float) -> None:
    conn.execute("INSERT OR IGNORE INTO federation_keys(user_id, public_key_pem, private_key_sealed, created_at)"
                 " VALUES (?, ?, ?, ?)", (user_id, public_pem, sealed, now))


def server_keys(conn: apsw.Connection, name: str) -> tuple[str, str] | None:
    """(public key PEM, sealed private key) of the server actor NAME (migration 0089), None before
    the first use."""
    row = conn.execute("SELECT public_key_pem, private_key_sealed FROM federation_server_keys WHERE name = ?",
                       (name,)).fetchone()
    return (row["public_key_pem"], row["private_key_sealed"]) if row else None


def insert_server_keys(conn: apsw.Connection, name: str, public_pem: str, sealed: str, now: float) -> None:
    conn.execute("INSERT OR IGNORE INTO federation_server_keys(name, public_key_pem, private_key_sealed, created_at)"
                 " VALUES (?, ?, ?, ?)", (name, public_pem, sealed, now))


# remote actors -------------------------------------------------------------------------------------
def actor(conn: apsw.Connection, user_id: int) -> RemoteActor | None:
    return _actor(conn.execute("SELECT * FROM federation_actors WHERE user_id = ?", (user_id,)).fetchone())


def actor_by_url(conn: apsw.Connection, actor_url: str) -> RemoteActor | None:
    return _actor(conn.execute("SELECT * FROM federation_actors WHERE actor_url = ?", (actor_url,)).fetchone())


def user_by_actor_url(conn: apsw.Connection, actor_url: str) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE actor_url = ?", (actor_url,)).fetchone()
    return users_q.to_user(row) if row else None


def upsert_remote(conn: apsw.Connection, *, handle: str, name: str, icon_url: str | None, bio: str | None,
                  actor_url: str, host: str, inbox: str, shared_inbox: str | None, key_id: str,
                  public_key_pem: str, now: float) -> tuple[User, str | None]:
    """Create or refresh the shadow user of a remote actor and what we know of the actor; the
    user and the icon URL stored before (None for a new actor).

    The handle follows the actor's preferredUsername (a rename there renames it here). A handle is
    one actor's at a time: another actor of the host that held it (an account deleted and made
    again under a new URL, or renamed since) keeps its messages and chats under `handle~<id>`
    until its own document is fetched again. The avatar is this server's copy of ICON_URL
    (set_remote_avatar): a new icon, or none, clears it at once."""
    before = conn.execute("SELECT icon_url FROM federation_actors WHERE actor_url = ?", (actor_url,)).fetchone()
    previous = before["icon_url"] if before else None
    conn.execute(
        "UPDATE users SET username = username || '~' || id, email = email || '~' || id"
        " WHERE username = ? AND is_remote = 1 AND actor_url IS NOT ?", (handle, actor_url))
    row = _one(
        conn, "INSERT INTO users(email, username, name, password_hash, bio, is_remote, actor_url,"
        " email_verified, created_at, updated_at) VALUES (?, ?, ?, '!', ?, 1, ?, 0, ?, ?)"
        " ON CONFLICT(actor_url) WHERE actor_url IS NOT NULL DO UPDATE SET username = excluded.username,"
        " email = excluded.email, name = excluded.name, bio = excluded.bio,"
        " updated_at = excluded.updated_at RETURNING *",
        (f"remote:{handle}", handle, name, bio, actor_url, now, now))
    user = users_q.to_user(row)
    if icon_url != previous and user.avatar_url is not None:
        row = _one(conn, "UPDATE users SET avatar_url = NULL WHERE id = ? RETURNING *", (user.id,))
        user = users_q.to_user(row)
    conn.execute(
        "INSERT INTO federation_actors(user_id, actor_url, host, inbox, shared_inbox, key_id, public_key_pem,"
        " fetched_at, icon_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
        " host = excluded.host, inbox = excluded.inbox, shared_inbox = excluded.shared_inbox,"
        " key_id = excluded.key_id, public_key_pem = excluded.public_key_pem, fetched_at = excluded.fetched_at,"
        " icon_url = excluded.icon_url",
        (user.id, actor_url, host, inbox, shared_inbox, key_id, public_key_pem, now, icon_url))
    return user, previous


def set_remote_avatar(conn: apsw.Connection, user_id: int, icon_url: str, avatar_url: str, now: float) -> User | None:
    """Make AVATAR_URL (this server's copy of ICON_URL) the remote user's avatar, when ICON_URL is
    still the actor's icon; None (nothing changed) when another document replaced it meanwhile."""
    row = conn.execute(
        "UPDATE users SET avatar_url = ?, updated_at = ? WHERE id = ? AND is_remote = 1"
        " AND EXISTS (SELECT 1 FROM federation_actors WHERE user_id = ? AND icon_url = ?) RETURNING *",
        (avatar_url, now, user_id, user_id, icon_url)).fetchone()
    return users_q.to_user(row) if row else None


def remote_members(conn: apsw.Connection, user_ids: list[int]) -> list[tuple[User, RemoteActor]]:
    """The remote users among USER_IDS with their actors."""
    if not user_ids:
        return []
    marks = ",".join("?" * len(user_ids))
    rows = cast(list[dict[str, Any]], conn.execute(f"SELECT u.*, a.host AS a_host, a.inbox AS a_inbox, a.shared_inbox AS a_shared,"
                        f" a.key_id AS a_key, a.public_key_pem AS a_pem, a.fetched_at AS a_at"
                        f" FROM users u JOIN federation_actors a ON a.user_id = u.id"
                        f" WHERE u.id IN ({marks}) AND u.is_remote = 1", tuple(user_ids)).fetchall())
    out = []
    for r in rows:
        act = RemoteActor(r["id"], r["actor_url"], r["a_host"], r["a_inbox"], r["a_shared"], r["a_key"],
                          r["a_pem"], r["a_at"])
        out.append((users_q.to_user(r), act))
    return out


def profile_audience(conn: apsw.Connection, user_id: int) -> list[RemoteActor]:
    """The remote actors that know the local USER_ID's profile: their accepted followers and the
    counterparts of their private chats, less those USER_ID blocked; by host, then actor."""
    rows = conn.execute(
        "SELECT a.* FROM federation_actors a WHERE a.user_id IN ("
        " SELECT follower_id FROM federation_follows WHERE followee_id = ?1 AND state = 'accepted'"
        " UNION SELECT other.user_id FROM chat_members mine"
        " JOIN chats c ON c.id = mine.chat_id AND c.type = 'private'"
        " JOIN chat_members other ON other.chat_id = mine.chat_id AND other.user_id <> mine.user_id"
        " WHERE mine.user_id = ?1)"
        " AND a.user_id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = ?1)"
        " ORDER BY a.host, a.actor_url", (user_id,))
    return [RemoteActor(**r) for r in rows]


# the delivery queue --------------------------------------------------------------------------------
def enqueue(conn: apsw.Connection, *, sender_id: int, inbox: str, host: str, activity: dict[str, Any],
            now: float) -> int:
    row = _one(conn, "INSERT INTO federation_queue(sender_id, inbox, host, activity, next_attempt_at, created_at)"
               " VALUES (?, ?, ?, ?, ?, ?) RETURNING id", (sender_id, inbox, host, json.dumps(activity), now, now))
    return int(row["id"])


def due(conn: apsw.Connection, now: float, limit: int) -> list[Delivery]:
    rows = conn.execute("SELECT * FROM federation_queue WHERE state = 'pending' AND next_attempt_at <= ?"
                        " ORDER BY next_attempt_at, id LIMIT ?", (now, limit))
    return [Delivery.from_row(r) for r in rows]


def record_attempt(conn: apsw.Connection, delivery_id: int, *, state: str, status: int | None,
                   error: str | None, now: float, next_at: float) -> None:
    conn.execute("UPDATE federation_queue SET state = ?, attempts = attempts + 1, last_status = ?,"
                 " last_error = ?, last_attempt_at = ?, next_attempt_at = ? WHERE id = ?",
                 (state, status, error, now, next_at, delivery_id))


def queue_page(conn: apsw.Connection, *, state: str | None, limit: int, before_id: int | None) -> list[Delivery]:
    rows = conn.execute("SELECT * FROM federation_queue WHERE (?1 IS NULL OR state = ?1)"
                        " AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3", (state, before_id, limit))
    return [Delivery.from_row(r) for r in rows]


def retry_now(conn: apsw.Connection, delivery_id: int, now: float) -> Delivery | None:
    """Make a pending or failed delivery due now; None when there is no such row (or it was delivered)."""
    row = conn.execute("UPDATE federation_queue SET state = 'pending', next_attempt_at = ?"
                       " WHERE id = ? AND state <> 'delivered' RETURNING *", (now, delivery_id)).fetchone()
    return Delivery.from_row(row) if row else None


# incoming activity ids -----------------------------------------------------------------------------
def mark_seen(conn: apsw.Connection, activity_id: str, now: float) -> bool:
    """Record ACTIVITY_ID; False when it was recorded before (a redelivery or a replay)."""
    conn.execute("INSERT OR IGNORE INTO federation_seen(activity_id, received_at) VALUES (?, ?)",
                 (activity_id, now))
    return conn.changes() > 0


# follows -------------------------------------------------------------------------------------------
def set_follow(conn: apsw.Connection, follower_id: int, followee_id: int, state: str, activity_id: str,
               now: float) -> None:
    conn.execute("INSERT INTO federation_follows(follower_id, followee_id, state, activity_id, created_at)"
                 " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET state = excluded.state,"
                 " activity_id = excluded.activity_id", (follower_id, followee_id, state, activity_id, now))


def follow_state(conn: apsw.Connection, follower_id: int, followee_id: int) -> str | None:
    row = conn.execute("SELECT state FROM federation_follows WHERE follower_id = ? AND followee_id = ?",
                       (follower_id, followee_id)).fetchone()
    return row["state"] if row else None


def accept_follow(conn: apsw.Connection, follower_id: int, followee_id: int) -> None:
    conn.execute("UPDATE federation_follows SET state = 'accepted' WHERE follower_id = ? AND followee_id = ?",
                 (follower_id, followee_id))


def delete_follow(conn: apsw.Connection, follower_id: int, followee_id: int) -> bool:
    conn.execute("DELETE FROM federation_follows WHERE follower_id = ? AND followee_id = ?",
                 (follower_id, followee_id))
    return conn.changes() > 0


def follows(conn: apsw.Connection, user_id: int, *, followers: bool) -> list[tuple[User, str]]:
    """The accepted or pending followers (FOLLOWERS) or followees of USER_ID, with the state."""
    mine, theirs = ("followee_id", "follower_id") if followers else ("follower_id", "followee_id")
    rows = conn.execute(f"SELECT u.*, f.state AS f_state FROM federation_follows f JOIN users u ON u.id = f.{theirs}"
                        f" WHERE f.{mine} = ? ORDER BY f.created_at, u.id", (user_id,))
    return [(users_q.to_user(r), r["f_state"]) for r in rows]


def count_follows(conn: apsw.Connection, user_id: int, *, followers: bool) -> int:
    col = "followee_id" if followers else "follower_id"
    return int(_one(conn, f"SELECT count(*) AS n FROM federation_follows WHERE {col} = ? AND state = 'accepted'",
                    (user_id,))["n"])


# the domain list -----------------------------------------------------------------------------------
def domains(conn: apsw.Connection) -> list[str]:
    return [r["domain"] for r in conn.execute("SELECT domain FROM federation_domains ORDER BY domain")]


def add_domain(conn: apsw.Connection, domain: str, now: float) -> bool:
    conn.execute("INSERT OR IGNORE INTO federation_domains(domain, created_at) VALUES (?, ?)", (domain, now))
    return conn.changes() > 0


def remove_domain(conn: apsw.Connection, domain: str) -> bool:
    conn.execute("DELETE FROM federation_domains WHERE domain = ?", (domain,))
    return conn.changes() > 0


def domain_listed(conn: apsw.Connection, domain: str) -> bool:
    return conn.execute("SELECT 1 FROM federation_domains WHERE domain = ?", (domain,)).fetchone() is not None


def local_user_count(conn: apsw.Connection) -> int:
    return int(_one(conn, "SELECT count(*) AS n FROM users WHERE is_remote = 0", ())["n"])


# replay guard ------------------------------------------------------------------------------------
def remember_signature(conn: apsw.Connection, digest: bytes, now: float, expires_at: float) -> bool:
    """Record a signature until EXPIRES_AT, pruning expired ones; False when it is recorded already."""
    conn.execute("DELETE FROM federation_signatures WHERE expires_at < ?", (now,))
    conn.execute("INSERT OR IGNORE INTO federation_signatures(digest, expires_at) VALUES (?, ?)",
                 (digest, expires_at))
    return conn.changes() > 0


# host health -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Host:
    host: str
    failing_since: float | None
    down_at: float | None
    last_error: str | None
    updated_at: float


def host_state(conn: apsw.Connection, host: str) -> Host | None:
    row = conn.execute("SELECT host, failing_since, down_at, last_error, updated_at FROM federation_hosts"
                       " WHERE host = ?", (host,)).fetchone()
    return Host(**row) if row is not None else None


def down_hosts(conn: apsw.Connection) -> set[str]:
    return {r["host"].lower() for r in conn.execute("SELECT host FROM federation_hosts WHERE down_at IS NOT NULL")}


def hosts(conn: apsw.Connection) -> list[Host]:
    """Every host that failed since its last success, the ones marked down first."""
    return [Host(**r) for r in conn.execute(
        "SELECT host, failing_since, down_at, last_error, updated_at FROM federation_hosts"
        " ORDER BY down_at IS NULL, host")]


def host_failed(conn: apsw.Connection, host: str, error: str | None, now: float, down_after: float) -> Host:
    """Record a failed delivery to HOST; mark it down once it has failed for DOWN_AFTER seconds."""
    conn.execute(
        "INSERT INTO federation_hosts(host, failing_since, last_error, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(host) DO UPDATE SET failing_since = coalesce(failing_since, excluded.failing_since),"
        " last_error = excluded.last_error, updated_at = excluded.updated_at", (host, now, error, now))
    conn.execute("UPDATE federation_hosts SET down_at = ? WHERE host = ? AND down_at IS NULL"
                 " AND failing_since <= ?", (now, host, now - down_after))
    found = host_state(conn, host)
    assert found is not None
    return found


def host_up(conn: apsw.Connection, host: str) -> bool:
    """Forget HOST's failures (a delivery succeeded, or it sent us a signed request); True when it was down."""
    found = host_state(conn, host)
    if found is None:
        return False
    conn.execute("DELETE FROM federation_hosts WHERE host = ?", (host,))
    return found.down_at is not None


def defer_host(conn: apsw.Connection, host: str, until: float) -> None:
    """Make HOST's pending deliveries wait until UNTIL at least (the host is down)."""
    conn.execute("UPDATE federation_queue SET next_attempt_at = max(next_attempt_at, ?)"
                 " WHERE state = 'pending' AND host = ?", (until, host))


def host_back(conn: apsw.Connection, host: str, now: float) -> None:
    """HOST is up again: forget its failures and make its pending deliveries due now."""
    host_up(conn, host)
    conn.execute("UPDATE federation_queue SET next_attempt_at = ? WHERE state = 'pending' AND host = ?", (now, host))


def shared_inboxes(conn: apsw.Connection, inboxes: list[str]) -> dict[str, str]:
    """Inbox -> the sharedInbox its remote actor advertises, for the INBOXES that have one."""
    out: dict[str, str] = {}
    for i in range(0, len(inboxes), 500):
        chunk = inboxes[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(f"SELECT inbox, shared_inbox FROM federation_actors WHERE inbox IN ({marks})"
                              " AND shared_inbox IS NOT NULL", chunk):
            out[r["inbox"]] = r["shared_inbox"]
    return out
