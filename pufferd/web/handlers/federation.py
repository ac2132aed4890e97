"""Federation (README "Federation"): WebFinger, NodeInfo, actor documents and inboxes for other
servers (signed, unauthenticated by token), and the API for users (resolve, follow) and admins
(the delivery queue, the domain list). Every route is 404 while federation_enabled is off; the
rules live in pufferd/federation/."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from pufferd.federation import actors, admin, follows, inbox
from pufferd.web import filestream, ranges
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.federation import (
    DeliveryRead,
    DomainList,
    DomainRequest,
    FederationQueueQuery,
    FollowRead,
    HandleRequest,
    HostRead,
    WebfingerQuery,
)
from pufferd.web.schemas.users import UserRead

routes = Router("federation")
AP_JSON = "application/activity+json"


def _json(doc: dict[str, Any], content_type: str) -> web.Response:
    return web.Response(body=json.dumps(doc).encode(), content_type=content_type)


# for other servers -------------------------------------------------------------------------------
@routes.get("/.well-known/webfinger", query=WebfingerQuery, auth=False)
async def webfinger(request: web.Request, query: WebfingerQuery) -> web.Response:
    """WebFinger (RFC 7033) for `acct:user@server_name`: the user's actor (for
    `acct:server_name@server_name`, the instance actor); 404 for other domains, unknown users and
    while federation is off."""
    return _json(await actors.webfinger(request.app[CTX], query.resource), "application/jrd+json")


@routes.get("/.well-known/nodeinfo", auth=False)
async def nodeinfo_links(request: web.Request) -> dict[str, Any]:
    """Where this server's NodeInfo document is."""
    return actors.nodeinfo_links(request.app[CTX])


@routes.get("/nodeinfo/2.1", auth=False)
async def nodeinfo(request: web.Request) -> dict[str, Any]:
    """NodeInfo 2.1: software name and version, open registrations, the local user count."""
    return await actors.nodeinfo(request.app[CTX])


@routes.get("/ap/actor", auth=False)
async def instance_actor(request: web.Request) -> web.Response:
    """The instance actor (an Application, not a user) with the public key that signs this server's
    GETs to other servers; served to anyone, since they fetch it to verify those signatures."""
    return _json(await actors.instance_actor_document(request.app[CTX]), AP_JSON)


@routes.get("/ap/actor/outbox", auth=False)
async def instance_outbox(request: web.Request) -> web.Response:
    """The instance actor's outbox: always empty."""
    return _json(actors.instance_outbox(request.app[CTX]), AP_JSON)


@routes.get("/ap/users/{user_id}", auth=False)
async def actor(request: web.Request, user_id: int) -> web.Response:
    """A local user's actor document (Person) with the public key, as `application/activity+json`."""
    await _authorized(request)
    return _json(await actors.actor_document(request.app[CTX], user_id), AP_JSON)


_AVATAR_OPENAPI: dict[str, Any] = {
    "parameters": [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                   {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                    "description": "the last segment of the actor document's icon URL"}],
    "responses": {
        "200": {"description": "The image, cacheable (the URL changes with the avatar)",
                "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}},
        "304": {"description": "If-None-Match matched the ETag"},
        "404": {"description": "Not this user's avatar, an avatar not everyone may see, or federation off",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}},
        "503": {"description": "The stored file cannot be read (pufferd doctor)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}},
    },
}


@routes.get("/ap/users/{user_id}/avatar/{name}", auth=False, openapi=_AVATAR_OPENAPI)
async def avatar(request: web.Request, user_id: int, name: str) -> web.StreamResponse:
    """A local user's avatar for other servers (the `icon` of the actor document), unsigned, while
    anyone may see it (privacy_avatar `everyone`)."""
    ctx = request.app[CTX]
    obj = await actors.public_avatar(ctx, user_id, name)
    etag = f'"{obj.sha256}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; sandbox"}
    if ranges.not_modified(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    resp = web.StreamResponse(headers={**headers, "Content-Type": obj.file_type})
    resp.content_length = obj.file_size
    return await filestream.send(request, resp, ctx, obj, 0, obj.file_size)


@routes.get("/ap/users/{user_id}/outbox", auth=False)
async def outbox(request: web.Request, user_id: int) -> web.Response:
    """The outbox: always empty, since direct messages are private and nothing else is published."""
    await _authorized(request)
    return _json(await actors.collection(request.app[CTX], user_id, "outbox"), AP_JSON)


@routes.get("/ap/users/{user_id}/followers", auth=False)
async def followers_collection(request: web.Request, user_id: int) -> web.Response:
    """The number of accepted followers (the list itself is not published)."""
    await _authorized(request)
    return _json(await actors.collection(request.app[CTX], user_id, "followers"), AP_JSON)


@routes.get("/ap/users/{user_id}/following", auth=False)
async def following_collection(request: web.Request, user_id: int) -> web.Response:
    """The number of accepted follows (the list itself is not published)."""
    await _authorized(request)
    return _json(await actors.collection(request.app[CTX], user_id, "following"), AP_JSON)


async def _authorized(request: web.Request) -> None:
    """With federation_authorized_fetch, only a request signed by a remote actor passes (401, 403)."""
    await inbox.verify_fetch(request.app[CTX], path_qs=request.path_qs, headers=dict(request.headers))


async def _receive(request: web.Request) -> web.Response:
    body = await request.read()
    await inbox.receive(request.app[CTX], path_qs=request.path_qs, headers=dict(request.headers), body=body)
    return web.Response(status=202)


@routes.post("/ap/inbox", auth=False, status=202)
async def shared_inbox(request: web.Request) -> web.Response:
    """The shared inbox: a signed activity (401 unless the HTTP Signature verifies; 202 applied or
    seen before; 403 a blocked domain or a refused message; 429 too many from the host)."""
    return await _receive(request)


@routes.post("/ap/users/{user_id}/inbox", auth=False, status=202)
async def user_inbox(request: web.Request, user_id: int) -> web.Response:
    """A user's inbox; the same rules as the shared inbox."""
    return await _receive(request)


# for users ---------------------------------------------------------------------------------------
@routes.post("/api/v1/federation/resolve", body=HandleRequest, response=UserRead)
async def resolve(request: web.Request, body: HandleRequest) -> UserRead:
    """A user by handle (`@bob@other.example`, `bob@other.example`) or actor URL: for another
    server, the local shadow user of the remote actor (is_remote, actor_url), fetched through
    WebFinger and refreshed when stale. Chat with them through the usual API."""
    user = await actors.resolve(request.app[CTX], request[USER], body.handle)
    return UserRead.of(user, user.avatar_url, None)


@routes.post("/api/v1/federation/follow", body=HandleRequest, response=FollowRead)
async def follow(request: web.Request, body: HandleRequest) -> FollowRead:
    """Follow a remote user (a Follow activity); pending until they accept."""
    user, state = await follows.follow(request.app[CTX], request[USER], body.handle)
    return FollowRead.of(user, state)


@routes.post("/api/v1/federation/unfollow", body=HandleRequest, response=FollowRead)
async def unfollow(request: web.Request, body: HandleRequest) -> FollowRead:
    """Stop following a remote user (Undo of the Follow)."""
    user, state = await follows.follow(request.app[CTX], request[USER], body.handle, undo=True)
    return FollowRead.of(user, state)


@routes.get("/api/v1/federation/followers", response=list[FollowRead])
async def followers(request: web.Request) -> list[FollowRead]:
    """Who follows the caller."""
    rows = await follows.listing(request.app[CTX], request[USER], followers=True)
    return [FollowRead.of(u, s) for u, s in rows]


@routes.get("/api/v1/federation/following", response=list[FollowRead])
async def following(request: web.Request) -> list[FollowRead]:
    """Whom the caller follows."""
    rows = await follows.listing(request.app[CTX], request[USER], followers=False)
    return [FollowRead.of(u, s) for u, s in rows]


# for admins --------------------------------------------------------------------------------------
@routes.get("/api/v1/federation/queue", query=FederationQueueQuery, response=list[DeliveryRead])
async def queue(request: web.Request, query: FederationQueueQuery) -> list[DeliveryRead]:
    """The delivery queue, newest first, with each row's attempts and last result (MANAGE_SETTINGS)."""
    actors.enabled_or_404(request.app[CTX])
    rows = await admin.queue(request.app[CTX], request[USER], state=query.state, limit=query.limit,
                             before_id=query.before_id)
    return [DeliveryRead.of(d) for d in rows]


@routes.post("/api/v1/federation/queue/{delivery_id}/retry", response=DeliveryRead)
async def retry(request: web.Request, delivery_id: int) -> DeliveryRead:
    """Make a pending or failed delivery due now (MANAGE_SETTINGS); 404 when delivered or unknown."""
    actors.enabled_or_404(request.app[CTX])
    return DeliveryRead.of(await admin.retry_now(request.app[CTX], request[USER], delivery_id))


@routes.get("/api/v1/federation/hosts", response=list[HostRead])
async def hosts(request: web.Request) -> list[HostRead]:
    """Remote hosts whose deliveries fail, the ones marked down first (MANAGE_SETTINGS)."""
    actors.enabled_or_404(request.app[CTX])
    return [HostRead.of(h) for h in await admin.hosts(request.app[CTX], request[USER])]


@routes.get("/api/v1/federation/domains", response=DomainList)
async def domains(request: web.Request) -> DomainList:
    """The domain list and its mode (MANAGE_SETTINGS)."""
    ctx = request.app[CTX]
    return DomainList(mode=ctx.settings.federation_domain_mode, domains=await admin.domains(ctx, request[USER]))


@routes.post("/api/v1/federation/domains", body=DomainRequest, response=DomainList)
async def add_domain(request: web.Request, body: DomainRequest) -> DomainList:
    """List a domain: blocked both ways (blocklist mode) or allowed (allowlist mode)."""
    ctx = request.app[CTX]
    listed = await admin.set_domain(ctx, request[USER], body.domain, listed=True)
    return DomainList(mode=ctx.settings.federation_domain_mode, domains=listed)


@routes.delete("/api/v1/federation/domains/{domain}", response=DomainList)
async def remove_domain(request: web.Request, domain: str) -> DomainList:
    """Take a domain off the list."""
    ctx = request.app[CTX]
    listed = await admin.set_domain(ctx, request[USER], domain, listed=False)
    return DomainList(mode=ctx.settings.federation_domain_mode, domains=listed)
