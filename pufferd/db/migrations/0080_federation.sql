-- Federation (issue 15; pufferd/federation/): remote users as local shadow users, actor keys,
-- the delivery queue, incoming activity ids, follows and the domain list.

-- A remote person is a row of users (is_remote = 1, username 'bob@other.example', actor_url),
-- so chats, messages, contacts, blocks and search treat them like anyone; they never sign in
-- (no usable password hash, and accounts refuse remote users).
ALTER TABLE users ADD COLUMN is_remote INTEGER NOT NULL DEFAULT 0 CHECK (is_remote IN (0, 1));
ALTER TABLE users ADD COLUMN actor_url TEXT;
CREATE UNIQUE INDEX users_actor_url ON users(actor_url) WHERE actor_url IS NOT NULL;

-- What we know of a remote actor: where to deliver, the key its signatures verify with.
CREATE TABLE federation_actors (
    user_id         INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    actor_url       TEXT    NOT NULL UNIQUE,
    host            TEXT    NOT NULL,
    inbox           TEXT    NOT NULL,
    shared_inbox    TEXT,
    key_id          TEXT    NOT NULL,
    public_key_pem  TEXT    NOT NULL,
    fetched_at      REAL    NOT NULL
) STRICT;
CREATE INDEX federation_actors_key ON federation_actors(key_id);

-- One RSA-2048 key pair per local actor; the private key sealed with a key derived from
-- keys/master.key and bound to the user id (like TOTP secrets, pufferd/twofa.py).
CREATE TABLE federation_keys (
    user_id             INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    public_key_pem      TEXT    NOT NULL,
    private_key_sealed  TEXT    NOT NULL,
    created_at          REAL    NOT NULL
) STRICT;

-- Outgoing activities, written in the transaction of what they announce; the worker delivers
-- due rows (pufferd/federation/delivery.py). Delivered and failed rows stay for the admin view.
CREATE TABLE federation_queue (
    id               INTEGER PRIMARY KEY,
    sender_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    inbox            TEXT    NOT NULL,
    host             TEXT    NOT NULL,
    activity         TEXT    NOT NULL,  -- JSON, as signed and posted
    state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL    NOT NULL,
    last_attempt_at  REAL,
    last_status      INTEGER,
    last_error       TEXT,
    created_at       REAL    NOT NULL
) STRICT;
CREATE INDEX federation_queue_due ON federation_queue(next_attempt_at) WHERE state = 'pending';

-- Incoming activity ids already applied: a redelivery or replay changes nothing.
CREATE TABLE federation_seen (
    activity_id  TEXT PRIMARY KEY,
    received_at  REAL NOT NULL
) STRICT, WITHOUT ROWID;

-- follower follows followee (either side may be remote); pending until Accept.
CREATE TABLE federation_follows (
    follower_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    followee_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'accepted')),
    activity_id  TEXT    NOT NULL,
    created_at   REAL    NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX federation_follows_followee ON federation_follows(followee_id, follower_id);

-- The admins' domain list: blocked domains (blocklist mode) or the only allowed ones (allowlist).
CREATE TABLE federation_domains (
    domain      TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    created_at  REAL NOT NULL
) STRICT, WITHOUT ROWID;
