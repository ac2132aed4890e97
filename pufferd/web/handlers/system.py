"""Administration (issue 13; README "Administration"): roles, server info and settings, invites,
IP blocks, audit and activity. Every rule, privilege checks included, lives in the domain modules
(roles, instance, invites, ipblocks, auditlog; privileges.py answers who may)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from pufferd import auditlog, instance, invites, ipblocks, roles
from pufferd.privileges import Role
from pufferd.web.client import client_info
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.system import (
    ActivityPage,
    ActivityRead,
    AuditEntryRead,
    AuditPage,
    AuditQuery,
    InviteCreate,
    InviteCreated,
    InvitePage,
    InviteRead,
    IpBlockCreate,
    IpBlockPage,
    IpBlockRead,
    PageQuery,
    PrivilegesRead,
    ReasonQuery,
    RoleChangeRead,
    RoleUpdate,
    ServerInfoRead,
    ServerInfoUpdate,
    SettingRead,
    SettingsRead,
    SettingsUpdate,
    SettingsUpdateRead,
    SystemUserPage,
    SystemUserRead,
    SystemUsersQuery,
    epoch,
)

routes = Router("system")
T = TypeVar("T")


def _page(found: list[T], limit: int, key: Callable[[T], int]) -> tuple[list[T], int | None]:
    """The first LIMIT of FOUND (asked for LIMIT + 1) and the cursor of the next page, if any."""
    return found[:limit], key(found[limit - 1]) if len(found) > limit else None


# server info (public) --------------------------------------------------------------------------
@routes.get("/api/v1/system/server-info", response=ServerInfoRead, auth=False)
async def get_server_info(request: web.Request) -> ServerInfoRead:
    """Name, description, version, registration mode, the limits clients must respect, and the
    member and online counts. Public: no token needed."""
    return ServerInfoRead.of(await instance.server_info(request.app[CTX]))


@routes.put("/api/v1/system/server-info", body=ServerInfoUpdate, response=ServerInfoRead)
async def put_server_info(request: web.Request, body: ServerInfoUpdate) -> ServerInfoRead:
    """Change the name, description, avatar or banner (MANAGE_SETTINGS). Takes effect at once;
    everyone connected gets `server_updated` with the new info."""
    info = await instance.update_server_info(request.app[CTX], request[USER], body.changes(), reason=body.reason,
                                             client=client_info(request))
    return ServerInfoRead.of(info)


# settings ----------------------------------------------------------------------------------------
@routes.get("/api/v1/system/settings", response=SettingsRead)
async def get_settings(request: web.Request) -> SettingsRead:
    """Every setting but the secrets (MANAGE_SETTINGS): the value in effect, the configured value,
    the value stored over the API, and whether it changes at run time, at the next start, or only
    in pufferd.toml, the environment or a flag."""
    views = instance.settings_view(request.app[CTX], request[USER])
    return SettingsRead(settings=[SettingRead.of(v) for v in views])


@routes.put("/api/v1/system/settings", body=SettingsUpdate, response=SettingsUpdateRead)
async def put_settings(request: web.Request, body: SettingsUpdate) -> SettingsUpdateRead:
    """Change settings (MANAGE_SETTINGS); null drops a stored value (the configured one applies
    again). Runtime settings take effect at once; the others are stored for the next start and
    the answer says `restart_required`. A refused value is 422 naming the setting, and then
    nothing is changed."""
    change = await instance.update_settings(request.app[CTX], request[USER], body.changes(), reason=body.reason,
                                            client=client_info(request))
    return SettingsUpdateRead(settings=[SettingRead.of(v) for v in change.settings],
                              restart_required=change.restart_required)


# roles and users ---------------------------------------------------------------------------------
@routes.get("/api/v1/system/privileges", response=PrivilegesRead)
async def get_privileges(request: web.Request) -> PrivilegesRead:
    """The caller's server role and privileges, and the privileges of every role."""
    return PrivilegesRead.of(request[USER])


@routes.get("/api/v1/system/users", query=SystemUsersQuery, response=SystemUserPage)
async def list_users(request: web.Request, query: SystemUsersQuery) -> SystemUserPage:
    """Accounts by id (MANAGE_ROLES), filtered by role, state (`active`, `disabled`, `banned`,
    `timed_out`) and `search` (part of the username, e-mail address or name); pass `next_cursor` as
    `cursor` for the next page."""
    ctx = request.app[CTX]
    found, cursor = _page(await roles.list_users(
        ctx, request[USER], limit=query.limit + 1, after_id=query.cursor or 0,
        role=Role(query.role) if query.role else None, state=query.state, search=query.search),
        query.limit, lambda u: u.id)
    now = ctx.clock.time()
    return SystemUserPage(users=[SystemUserRead.of(u, now) for u in found], next_cursor=cursor)


@routes.put("/api/v1/system/users/{user_id}/role", body=RoleUpdate, response=RoleChangeRead)
async def put_role(request: web.Request, user_id: int, body: RoleUpdate) -> RoleChangeRead:
    """Give a user a server role (MANAGE_ROLES). Only to people below the caller's own role, and
    only roles below it; the owner may make another user the owner, and becomes an admin. The
    owner cannot be demoted otherwise (403/409 saying why)."""
    ctx = request.app[CTX]
    change = await roles.change_role(ctx, request[USER], user_id, Role(body.role), reason=body.reason,
                                     client=client_info(request))
    now = ctx.clock.time()
    return RoleChangeRead(user=SystemUserRead.of(change.user, now), previous_role=change.previous_role,  # type: ignore[arg-type]
                          previous_owner=SystemUserRead.of(change.previous_owner, now) if change.previous_owner
                          else None)


# invites -----------------------------------------------------------------------------------------
@routes.get("/api/v1/system/invites", query=PageQuery, response=InvitePage)
async def list_invites(request: web.Request, query: PageQuery) -> InvitePage:
    """Server invite codes, newest first, with their uses (MANAGE_SETTINGS). Codes are not shown."""
    ctx = request.app[CTX]
    found, cursor = _page(await invites.list_invites(ctx, request[USER], limit=query.limit + 1,
                                                     before_id=query.cursor), query.limit, lambda i: i.id)
    now = ctx.clock.time()
    return InvitePage(invites=[InviteRead.of(i, now) for i in found], next_cursor=cursor)


@routes.post("/api/v1/system/invites", body=InviteCreate, response=InviteCreated, status=201)
async def create_invite(request: web.Request, body: InviteCreate) -> InviteCreated:
    """Create an invite code for registration (MANAGE_SETTINGS), limited in uses and time if
    given. The answer holds the code; it is not shown again."""
    ctx = request.app[CTX]
    new = await invites.create(ctx, request[USER], max_uses=body.max_uses, expires_at=epoch(body.expires_at),
                               note=body.note, client=client_info(request))
    return InviteCreated(**InviteRead.of(new.invite, ctx.clock.time()).model_dump(), code=new.code)


@routes.delete("/api/v1/system/invites/{invite_id}", query=ReasonQuery, response=InviteRead)
async def revoke_invite(request: web.Request, invite_id: int, query: ReasonQuery) -> InviteRead:
    """Revoke an invite code (MANAGE_SETTINGS): it stops working at once."""
    ctx = request.app[CTX]
    invite = await invites.revoke(ctx, request[USER], invite_id, reason=query.reason, client=client_info(request))
    return InviteRead.of(invite, ctx.clock.time())


# IP blocks ---------------------------------------------------------------------------------------
@routes.get("/api/v1/system/ip-blocks", query=PageQuery, response=IpBlockPage)
async def list_ip_blocks(request: web.Request, query: PageQuery) -> IpBlockPage:
    """Blocked addresses and ranges by id, expired ones included, with refused attempts (BLOCK_IPS)."""
    ctx = request.app[CTX]
    found, cursor = _page(await ipblocks.list_blocks(ctx, request[USER], limit=query.limit + 1,
                                                     after_id=query.cursor or 0), query.limit, lambda b: b.id)
    now = ctx.clock.time()
    return IpBlockPage(blocks=[IpBlockRead.of(b, now) for b in found], next_cursor=cursor)


@routes.post("/api/v1/system/ip-blocks", body=IpBlockCreate, response=IpBlockRead, status=201)
async def create_ip_block(request: web.Request, body: IpBlockCreate) -> IpBlockRead:
    """Block an address or CIDR range, IPv4 or IPv6 (BLOCK_IPS): its requests get 403 at once,
    except the health endpoints. 409 when it covers the caller's own address without `force`."""
    ctx = request.app[CTX]
    block = await ipblocks.block(ctx, request[USER], network=body.network, reason=body.reason,
                                 expires_at=epoch(body.expires_at), force=body.force, client=client_info(request))
    return IpBlockRead.of(block, ctx.clock.time())


@routes.delete("/api/v1/system/ip-blocks/{block_id}", query=ReasonQuery, status=204)
async def delete_ip_block(request: web.Request, block_id: int, query: ReasonQuery) -> None:
    """Unblock (BLOCK_IPS): the addresses may call again at once."""
    await ipblocks.unblock(request.app[CTX], request[USER], block_id, reason=query.reason,
                           client=client_info(request))


# audit and activity ----------------------------------------------------------------------------
@routes.get("/api/v1/system/audit", query=AuditQuery, response=AuditPage)
async def get_audit(request: web.Request, query: AuditQuery) -> AuditPage:
    """The audit log newest first (VIEW_AUDIT), filtered by actor (a user id or 'cli:<name>'),
    action, target (a user id, 'ip:<network>', 'invite:<id>', 'settings') and time (since
    inclusive, until exclusive); pass `next_cursor` as `cursor` for older entries."""
    filters = auditlog.Filters(actor=query.actor, action=query.action, target=query.target,
                               since=epoch(query.since), until=epoch(query.until))
    found, cursor = _page(await auditlog.page(request.app[CTX], request[USER], filters, limit=query.limit + 1,
                                              before_id=query.cursor), query.limit, lambda n: n.entry.id)
    return AuditPage(entries=[AuditEntryRead.of(n) for n in found], next_cursor=cursor)


@routes.get("/api/v1/system/activity", query=PageQuery, response=ActivityPage)
async def get_activity(request: web.Request, query: PageQuery) -> ActivityPage:
    """Recent administration and moderation events and new accounts, newest first, each in one
    sentence (VIEW_AUDIT): "alice changed bob's role to moderator"."""
    found, cursor = _page(await auditlog.activity(request.app[CTX], request[USER], limit=query.limit + 1,
                                                  before_id=query.cursor), query.limit, lambda a: a.named.entry.id)
    return ActivityPage(activity=[ActivityRead.of(a) for a in found], next_cursor=cursor)
