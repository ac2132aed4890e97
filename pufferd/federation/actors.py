"""Actors: our users as ActivityPub actors (WebFinger, actor documents, NodeInfo, RSA keys), the
instance actor (the server's own actor, whose key signs our GETs), and remote actors as local
shadow users (resolve, refresh, key lookup for verification)."""
from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import apsw

from pufferd import __version__, media, twofa
from pufferd.context import Context
from pufferd.db import federation_q, media_q, users_q
from pufferd.db.federation_q import RemoteActor
from pufferd.db.media_q import MediaObject
from pufferd.db.users_q import User
from pufferd.errors import BadRequest, Forbidden, NotFound, Unavailable
from pufferd.federation import signatures
from pufferd.federation.content import plain_text
from pufferd.federation.http import Fetcher, FetchError, Signer
from pufferd.federation.state import Federation

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTOR_TYPES = ("Person", "Service", "Application", "Group", "Organization")  # AS2 vocabulary §3.2
AS_CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
AP_TYPES = ("application/activity+json", "application/ld+json")
USER_NOT_FOUND = "User not found"
AVATAR_NOT_FOUND = "Avatar not found"
_HANDLE = re.compile(r"^@?([A-Za-z0-9_.\-]{1,64})@([A-Za-z0-9.\-]{1,253}(?::\d{1,5})?)$")


def state(ctx: Context) -> Federation:
    return ctx.federation


def enabled_or_404(ctx: Context) -> None:
    """Every federation route is 404 while federation_enabled is off."""
    if not ctx.settings.federation_enabled:
        raise NotFound("Federation is not enabled on this server")


def domain(ctx: Context) -> str:
    """The domain of our handles (user@domain): server_name."""
    return ctx.settings.server_name.lower()


def fetcher(ctx: Context) -> Fetcher:
    fed = state(ctx)
    if fed.http is None:
        fed.http = Fetcher(ctx.settings)
    return fed.http


# our URLs ----------------------------------------------------------------------------------------
def actor_url(ctx: Context, user_id: int) -> str:
    return f"{ctx.settings.base_url}/ap/users/{user_id}"


def key_id(ctx: Context, user_id: int) -> str:
    return actor_url(ctx, user_id) + "#main-key"


def instance_actor_url(ctx: Context) -> str:
    """The instance actor: the server itself as an actor (an Application), not a user."""
    return f"{ctx.settings.base_url}/ap/actor"


def instance_key_id(ctx: Context) -> str:
    return instance_actor_url(ctx) + "#main-key"


def shared_inbox(ctx: Context) -> str:
    return f"{ctx.settings.base_url}/ap/inbox"


def note_url(ctx: Context, message_id: int) -> str:
    return f"{ctx.settings.base_url}/ap/notes/{message_id}"


def local_id(ctx: Context, url: str, kind: str) -> int | None:
    """The id in one of our URLs (`{base}/ap/{kind}/{id}`), None for anything else."""
    prefix = f"{ctx.settings.base_url}/ap/{kind}/"
    rest = url[len(prefix):] if url.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def addressed_users(ctx: Context, obj: dict[str, Any]) -> list[int]:
    """The ids of our users an object or activity addresses (`to`, `cc`), ascending, once each."""
    urls: list[Any] = []
    for key in ("to", "cc"):
        value = obj.get(key)
        urls += value if isinstance(value, list) else [value]  # AS2 allows one value without a list
    urls = [u.get("id") if isinstance(u, dict) else u for u in urls]
    return sorted({i for i in (local_id(ctx, u, "users") for u in urls if isinstance(u, str)) if i is not None})


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def domain_allowed(ctx: Context, host: str) -> bool:
    """HOST (name[:port]) passes the admins' domain list: not listed in blocklist mode, listed in
    allowlist mode. A listed domain covers its subdomains."""
    name = host.lower()
    names = {name, name.split(":", 1)[0]}
    bare = name.split(":", 1)[0].split(".")
    names |= {".".join(bare[i:]) for i in range(1, len(bare) - 1)}
    listed = bool(names & state(ctx).domains)
    return not listed if ctx.settings.federation_domain_mode == "blocklist" else listed


def check_domain(ctx: Context, host: str) -> None:
    if not domain_allowed(ctx, host):
        raise Forbidden(f"Federation with {host} is blocked on this server")


# local keys --------------------------------------------------------------------------------------
INSTANCE_KEY = "instance actor"  # its name in federation_server_keys
_INSTANCE_BINDING = 0  # what the instance key is sealed to, where a user's is sealed to its id (none is 0)


def _seal_key(ctx: Context) -> bytes:
    return ctx.keys.derive("federation actor keys")


def _instance_seal_key(ctx: Context) -> bytes:
    return ctx.keys.derive("federation instance actor key")


async def _new_sealed_key(seal_key: bytes, binding: int) -> tuple[str, str]:
    """A fresh key pair: (public PEM, private key sealed with SEAL_KEY and bound to BINDING)."""
    key, pem = await asyncio.get_running_loop().run_in_executor(None, signatures.new_key_pair)
    return pem, twofa.seal(seal_key, binding, signatures.private_pem(key))


StoredKey = tuple[str, str]  # (public key PEM, sealed private key)


async def _stored_key(ctx: Context, read: Callable[[apsw.Connection], StoredKey | None],
                      insert: Callable[[apsw.Connection, str, str, float], None],
                      seal_key: bytes, binding: int) -> StoredKey:
    """A key pair as READ finds it, made and INSERTed on first use; two first uses at once keep
    the first one stored (the insert ignores a second)."""
    found = await ctx.db.read(read)
    if found is not None:
        return found
    pem, sealed = await _new_sealed_key(seal_key, binding)
    now = ctx.clock.time()

    def insert_txn(conn: apsw.Connection) -> StoredKey:
        insert(conn, pem, sealed, now)
        stored = read(conn)
        assert stored is not None
        return stored
    return await ctx.db.write(insert_txn)


def _unsealed(seal_key: bytes, binding: int, sealed: str, what: str) -> Any:
    pem = twofa.unseal(seal_key, binding, sealed)
    if pem is None:
        raise Unavailable(f"{what} cannot be unsealed with this master key")
    return signatures.load_private(pem)


async def _user_key(ctx: Context, user_id: int) -> StoredKey:
    return await _stored_key(ctx, lambda conn: federation_q.keys(conn, user_id),
                             lambda conn, pem, sealed, now: federation_q.insert_keys(conn, user_id, pem, sealed, now),
                             _seal_key(ctx), user_id)


async def _instance_key(ctx: Context) -> StoredKey:
    return await _stored_key(ctx, lambda conn: federation_q.server_keys(conn, INSTANCE_KEY),
                             lambda conn, pem, sealed, now: federation_q.insert_server_keys(
                                 conn, INSTANCE_KEY, pem, sealed, now),
                             _instance_seal_key(ctx), _INSTANCE_BINDING)


async def public_key(ctx: Context, user_id: int) -> str:
    """The actor's public key PEM, made (and its private half sealed) on first use."""
    return (await _user_key(ctx, user_id))[0]


async def private_key(ctx: Context, user_id: int) -> Any:
    cache = state(ctx).private_keys
    if user_id not in cache:
        _, sealed = await _user_key(ctx, user_id)
        cache[user_id] = _unsealed(_seal_key(ctx), user_id, sealed, "An actor key")
    return cache[user_id]


async def signer_for(ctx: Context, user_id: int) -> Signer:
    """A signer (method, url, body) -> headers with USER_ID's key."""
    key = await private_key(ctx, user_id)
    kid = key_id(ctx, user_id)
    return lambda method, url, body: signatures.sign(key, kid, method, url, body, ctx.clock.time())


async def instance_public_key(ctx: Context) -> str:
    """The instance actor's public key PEM, made (and its private half sealed) on first use."""
    return (await _instance_key(ctx))[0]


async def instance_signer(ctx: Context) -> Signer:
    """A signer (method, url, body) -> headers with the instance actor's key: every GET of
    federation is signed with it, since servers in "authorized fetch" mode (Mastodon's secure mode,
    GoToSocial) refuse unsigned GETs of actors and objects."""
    fed = state(ctx)
    if fed.instance_key is None:
        _, sealed = await _instance_key(ctx)
        fed.instance_key = _unsealed(_instance_seal_key(ctx), _INSTANCE_BINDING, sealed,
                                     "The instance actor key")
    key, kid = fed.instance_key, instance_key_id(ctx)
    return lambda method, url, body: signatures.sign(key, kid, method, url, body, ctx.clock.time())


# identity documents ------------------------------------------------------------------------------
def _local_user(conn: apsw.Connection, user_id: int) -> User:
    user = users_q.get(conn, user_id)
    if user is None or user.is_remote or user.is_disabled or user.banned_at is not None:
        raise NotFound(USER_NOT_FOUND)
    return user


async def webfinger(ctx: Context, resource: str) -> dict[str, Any]:
    """RFC 7033 answer for acct:USER@server_name (or our actor URL), and for the instance actor
    (acct:server_name@server_name or its URL); 404 for anything else."""
    enabled_or_404(ctx)
    name = resource[5:] if resource.startswith("acct:") else resource
    if name.lower() in (f"{domain(ctx)}@{domain(ctx)}", instance_actor_url(ctx).lower()):
        url = instance_actor_url(ctx)
        return {"subject": f"acct:{domain(ctx)}@{domain(ctx)}", "aliases": [url],
                "links": [{"rel": "self", "type": "application/activity+json", "href": url}]}
    user_id = local_id(ctx, name, "users")

    def find_txn(conn: apsw.Connection) -> User:
        if user_id is not None:
            return _local_user(conn, user_id)
        local, _, dom = name.rpartition("@")
        if not local or dom.lower() != domain(ctx):
            raise NotFound(USER_NOT_FOUND)
        found = users_q.get_by_username(conn, local.lstrip("@"))
        if found is None:
            raise NotFound(USER_NOT_FOUND)
        return _local_user(conn, found.id)

    user = await ctx.db.read(find_txn)
    if not user.federation_findable:  # the user's choice; known as unknown users are
        raise NotFound(USER_NOT_FOUND)
    url = actor_url(ctx, user.id)
    return {"subject": f"acct:{user.username}@{domain(ctx)}", "aliases": [url],
            "links": [{"rel": "self", "type": "application/activity+json", "href": url}]}


def nodeinfo_links(ctx: Context) -> dict[str, Any]:
    enabled_or_404(ctx)
    return {"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                       "href": f"{ctx.settings.base_url}/nodeinfo/2.1"}]}


async def nodeinfo(ctx: Context) -> dict[str, Any]:
    """NodeInfo 2.1: software, protocols, open registrations, local user count."""
    enabled_or_404(ctx)
    total = await ctx.db.read(federation_q.local_user_count)
    return {"version": "2.1",
            "software": {"name": "pufferd", "version": __version__},
            "protocols": ["activitypub"], "services": {"inbound": [], "outbound": []},
            "openRegistrations": ctx.settings.registration_mode == "open",
            "usage": {"users": {"total": total}}, "metadata": {"nodeName": ctx.settings.server_name}}


async def actor_document(ctx: Context, user_id: int) -> dict[str, Any]:
    """A local user as a Person, with the public key; the avatar only when anyone may see it."""
    enabled_or_404(ctx)
    user = await ctx.db.read(lambda conn: _local_user(conn, user_id))
    return person(ctx, user, await public_key(ctx, user.id))


async def instance_actor_document(ctx: Context) -> dict[str, Any]:
    """The instance actor (an Application named after the domain) with its public key: servers
    fetch it to verify our signed GETs, so it is served to anyone, unsigned requests included.
    Its inbox is the shared inbox, which takes (and ignores) what is addressed to it."""
    enabled_or_404(ctx)
    url = instance_actor_url(ctx)
    return {
        "@context": AS_CONTEXT, "id": url, "type": "Application", "preferredUsername": domain(ctx),
        "name": ctx.settings.server_name, "summary": "The pufferd server itself (signs its requests); not a user",
        "url": ctx.settings.base_url, "inbox": shared_inbox(ctx), "outbox": url + "/outbox",
        "endpoints": {"sharedInbox": shared_inbox(ctx)}, "manuallyApprovesFollowers": True,
        "publicKey": {"id": instance_key_id(ctx), "owner": url, "publicKeyPem": await instance_public_key(ctx)},
    }


def instance_outbox(ctx: Context) -> dict[str, Any]:
    """The instance actor's outbox: always empty."""
    enabled_or_404(ctx)
    return {"@context": AS_CONTEXT[0], "id": instance_actor_url(ctx) + "/outbox",
            "type": "OrderedCollection", "totalItems": 0, "orderedItems": []}


def person(ctx: Context, user: User, public_pem: str) -> dict[str, Any]:
    """USER's actor document (a Person), with the public key PUBLIC_PEM; the avatar only when
    anyone may see it. Served at the actor URL and sent in Update{Person} (outgoing.profile_txn)."""
    url = actor_url(ctx, user.id)
    doc: dict[str, Any] = {
        "@context": AS_CONTEXT, "id": url, "type": "Person", "preferredUsername": user.username,
        "name": user.name, "summary": user.bio or "", "url": url,
        "inbox": url + "/inbox", "outbox": url + "/outbox",
        "followers": url + "/followers", "following": url + "/following",
        "endpoints": {"sharedInbox": shared_inbox(ctx)}, "manuallyApprovesFollowers": False,
        "publicKey": {"id": key_id(ctx, user.id), "owner": url, "publicKeyPem": public_pem},
    }
    icon = public_avatar_url(ctx, user)
    if icon is not None:
        doc["icon"] = {"type": "Image", "url": icon}
    return doc


def public_avatar_url(ctx: Context, user: User) -> str | None:
    """Where other servers fetch USER's avatar: a URL of its own under the actor, served without a
    signature (the bucket's URLs need one) while anyone may see the avatar; None otherwise. The
    URL names the file, so it changes with the avatar and may be cached for long."""
    key = media.key_from_url(ctx.settings, user.avatar_url) if user.avatar_url else None
    if key is None or user.privacy_avatar != "everyone":
        return None
    return f"{actor_url(ctx, user.id)}/avatar/{key.removeprefix(media.KEY_PREFIX)}"


async def public_avatar(ctx: Context, user_id: int, name: str) -> MediaObject:
    """The stored object behind public_avatar_url(user) when NAME is that URL's last segment; 404
    for anything else: another file, an avatar that is not public (privacy_avatar), a user who is
    not a local, active one, federation off."""
    enabled_or_404(ctx)

    def find_txn(conn: apsw.Connection) -> MediaObject:
        user = _local_user(conn, user_id)
        url = public_avatar_url(ctx, user)
        if url is None or url.rsplit("/", 1)[1] != name:
            raise NotFound(AVATAR_NOT_FOUND)
        obj = media_q.get_object(conn, media.KEY_PREFIX + name)
        if obj is None or obj.state != "stored" or user.id not in {u.id for u in media_q.avatar_owners(conn, obj.object_key)}:
            raise NotFound(AVATAR_NOT_FOUND)
        return obj
    return await ctx.db.read(find_txn)


async def collection(ctx: Context, user_id: int, kind: str) -> dict[str, Any]:
    """The outbox (always empty: direct messages are private, nothing here is public) and the
    follower/following counts (the lists themselves are not published)."""
    enabled_or_404(ctx)

    def count_txn(conn: apsw.Connection) -> int:
        _local_user(conn, user_id)
        if kind == "outbox":
            return 0
        return federation_q.count_follows(conn, user_id, followers=kind == "followers")
    total = await ctx.db.read(count_txn)
    return {"@context": AS_CONTEXT[0], "id": f"{actor_url(ctx, user_id)}/{kind}",
            "type": "OrderedCollection", "totalItems": total, "orderedItems": []}


# remote actors -----------------------------------------------------------------------------------
def _text(value: Any, limit: int) -> str:
    return plain_text(value)[:limit] if isinstance(value, str) else ""


class NotAUser(NotFound):
    """The remote actor is a server's own actor (its instance actor), not a user: it gets no shadow
    user (which user search and lists would show). DOC is its fetched document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__("The remote actor is a server, not a user")
        self.doc = doc


# the names of the server actors of Misskey and the servers built on it (relay.actor follows relays)
SERVER_ACTOR_NAMES = ("instance.actor", "relay.actor")


def is_instance_actor(doc: dict[str, Any]) -> bool:
    """DOC is a server's own actor: an Application or Service named after its host, as Mastodon's,
    GoToSocial's and ours are, or by one of SERVER_ACTOR_NAMES (a bot account is a Service too,
    but named otherwise)."""
    name = doc.get("preferredUsername")
    parts = urlsplit(str(doc.get("id") or ""))
    return (doc.get("type") in ("Application", "Service") and isinstance(name, str)
            and name.lower() in (parts.netloc.lower(), (parts.hostname or "").lower(), *SERVER_ACTOR_NAMES))


def public_key_of(doc: dict[str, Any]) -> tuple[str, str] | None:
    """(key id, public key PEM) of an actor document, when it has one on the actor's host."""
    key = doc.get("publicKey") or {}
    if isinstance(key, list):
        key = key[0] if key else {}
    if (not isinstance(key, dict) or not isinstance(key.get("publicKeyPem"), str)
            or host_of(str(key.get("id", ""))) != host_of(str(doc.get("id") or ""))):
        return None
    return str(key["id"]), key["publicKeyPem"]


async def fetch_signed(ctx: Context, url: str) -> Any:
    """GET URL as ActivityPub JSON, signed by the instance actor (`(request-target) host date`, no
    Digest): servers in "authorized fetch" mode answer only signed GETs of actors and objects."""
    return await fetcher(ctx).get_json(url, signer=await instance_signer(ctx))


async def _fetch_actor(ctx: Context, url: str) -> dict[str, Any]:
    host = fetcher(ctx).check_url(url)
    check_domain(ctx, host)
    try:
        doc = await fetch_signed(ctx, url)
    except FetchError as exc:
        raise NotFound(f"The remote user could not be fetched: {exc}") from None
    if not isinstance(doc, dict) or doc.get("id") != url and host_of(str(doc.get("id"))) != host:
        raise NotFound("The remote actor document is not valid")
    return doc


async def store_actor(ctx: Context, doc: dict[str, Any]) -> User:
    """Create or refresh the shadow user of the actor document DOC; its icon is fetched as the
    user's avatar when it is new, or when the last fetch of it failed (remote_media.fetch_avatar)."""
    if is_instance_actor(doc):
        raise NotAUser(doc)
    url = str(doc.get("id") or "")
    host = host_of(url)
    key = public_key_of(doc)
    inbox = doc.get("inbox")
    username = doc.get("preferredUsername")
    if (key is None or not isinstance(inbox, str)
            or not isinstance(username, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", username)
            or host_of(inbox) != host):
        raise NotFound("The remote actor document is not valid")
    shared = (doc.get("endpoints") or {}).get("sharedInbox") if isinstance(doc.get("endpoints"), dict) else None
    icon = doc.get("icon")
    avatar = icon.get("url") if isinstance(icon, dict) and isinstance(icon.get("url"), str) else None
    if avatar and not avatar.startswith("https://") and not avatar.startswith("http://"):
        avatar = None
    name = _text(doc.get("name"), 100) or username
    now = ctx.clock.time()
    handle = f"{username}@{host}"

    def txn(conn: apsw.Connection) -> tuple[User, str | None]:
        return federation_q.upsert_remote(
            conn, handle=handle, name=name, icon_url=avatar, bio=_text(doc.get("summary"), 500) or None,
            actor_url=url, host=host, inbox=inbox,
            shared_inbox=shared if isinstance(shared, str) and host_of(shared) == host else None,
            key_id=key[0], public_key_pem=key[1], now=now)
    user, previous_icon = await ctx.db.write(txn)
    if avatar is not None and (avatar != previous_icon or user.avatar_url is None):
        from pufferd.federation import remote_media

        user = await remote_media.fetch_avatar(ctx, user, avatar)
    return user


async def actor_for_url(ctx: Context, url: str, *, refresh: bool = False) -> tuple[User, RemoteActor]:
    """The shadow user and actor of the remote actor URL, fetched when unknown, stale or REFRESH."""
    def read_txn(conn: apsw.Connection) -> tuple[User, RemoteActor] | None:
        act = federation_q.actor_by_url(conn, url)
        user = users_q.get(conn, act.user_id) if act else None
        return (user, act) if user and act else None

    found = await ctx.db.read(read_txn)
    stale = found is not None and ctx.clock.time() - found[1].fetched_at > ctx.settings.federation_actor_refresh_seconds
    if found is None or refresh or stale:
        try:
            await store_actor(ctx, await _fetch_actor(ctx, url))
        except NotFound:
            if found is None or refresh:
                raise
        found = await ctx.db.read(read_txn)
        if found is None:
            raise NotFound("The remote actor document is not valid")
    return found


async def resolve(ctx: Context, viewer: User, handle: str) -> User:
    """A handle (`@bob@other.example`, `bob@other.example`) or actor URL as a local user: our own
    users for our domain, otherwise the remote actor's shadow user (fetched via WebFinger)."""
    enabled_or_404(ctx)
    handle = handle.strip()
    if handle.startswith(("https://", "http://")):
        own = local_id(ctx, handle, "users")
        if own is not None:
            return await ctx.db.read(lambda conn: _local_user(conn, own))
        user, _ = await actor_for_url(ctx, handle)
        return user
    m = _HANDLE.match(handle)
    if m is None:
        raise BadRequest("handle: expected @user@server, user@server or an actor URL")
    name, dom = m.group(1), m.group(2).lower()
    if dom == domain(ctx):
        found = await ctx.db.read(lambda conn: users_q.get_by_username(conn, name))
        if found is None or found.is_remote:
            raise NotFound(USER_NOT_FOUND)
        return found
    check_domain(ctx, dom)
    url = await _webfinger_actor(ctx, name, dom)
    user, _ = await actor_for_url(ctx, url)
    return user


async def _webfinger_actor(ctx: Context, name: str, dom: str) -> str:
    schemes = ["https", "http"] if ctx.settings.federation_allow_http else ["https"]
    last = "not found"
    for scheme in schemes:
        url = f"{scheme}://{dom}/.well-known/webfinger?resource={quote(f'acct:{name}@{dom}')}"
        try:
            doc = await fetcher(ctx).get_json(url, accept="application/jrd+json, application/json")
        except FetchError as exc:
            last = str(exc)
            continue
        for link in doc.get("links", []) if isinstance(doc, dict) else []:
            if (isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str)
                    and str(link.get("type", "")).startswith(AP_TYPES)):
                return str(link["href"])
        last = "no ActivityPub actor in the WebFinger answer"
    raise NotFound(f"The remote user could not be found: {last}")
