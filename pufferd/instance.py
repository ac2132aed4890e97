"""The instance (issue 13, item 2): its public description and its settings, changed at run time.

What a client may know before signing in (name, description, registration mode, the limits it
must respect, member and online counts) is `server_info`. Administrators with MANAGE_SETTINGS
change the public description (`update_server_info`) and the settings listed in
config.RUNTIME_SETTINGS and config.RESTART_SETTINGS (`update_settings`): one transaction stores
the overrides and the audit entry, then the runtime ones take effect in place on ctx.settings
(pufferd/livesettings.py) and, when the public info changed, everyone connected gets
`server_updated` with the new info.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import apsw

import pufferd
from pufferd import audit, media, privileges
from pufferd.audit import ClientInfo
from pufferd.config import RESTART_SETTINGS, RUNTIME_SETTINGS, Settings
from pufferd.context import Context
from pufferd.db import system_q
from pufferd.db.database import Database
from pufferd.db.users_q import User
from pufferd.errors import RuleViolation
from pufferd.livesettings import InvalidSettings, LiveSettings, listed, to_json
from pufferd.privileges import Privilege
from pufferd.realtime.bus import Event

# the body fields of PUT /api/v1/system/server-info and the settings they change
SERVER_INFO_FIELDS = {"name": "server_name", "description": "server_description",
                      "avatar_url": "server_avatar_url", "banner_url": "server_banner_url"}


def load_settings(db: Database, configured: Settings) -> LiveSettings:
    """The configured settings with the overrides stored in the database (read before start())."""
    return LiveSettings.start(configured, db.write_sync(system_q.overrides))


@dataclass(frozen=True, slots=True)
class ServerInfo:
    name: str
    description: str
    version: str
    registration_mode: str
    avatar_url: str | None
    banner_url: str | None
    max_message_length: int
    max_upload_size_bytes: int
    allowed_upload_types: list[str]
    max_users: int | None
    members_count: int
    online_count: int


def _info(ctx: Context, members: int) -> ServerInfo:
    s = ctx.settings
    return ServerInfo(name=s.server_name, description=s.server_description, version=pufferd.__version__,
                      registration_mode=s.registration_mode, avatar_url=s.server_avatar_url or None,
                      banner_url=s.server_banner_url or None, max_message_length=s.max_message_length,
                      max_upload_size_bytes=s.max_upload_size_bytes,
                      allowed_upload_types=list(media.ALLOWED_TYPES), max_users=s.max_users or None,
                      members_count=members, online_count=len(ctx.presence.everyone()))


async def server_info(ctx: Context) -> ServerInfo:
    """The public description of this server; anyone may ask, signed in or not."""
    return _info(ctx, await ctx.db.read(system_q.count_members))


@dataclass(frozen=True, slots=True)
class SettingView:
    """One setting as administrators see it (secrets are never listed)."""

    name: str
    value: Any            # in effect now
    configured: Any       # from flags, environment, pufferd.toml or the default
    stored: Any           # the database override, None when there is none
    overridden: bool
    change: Literal["runtime", "restart", "file"]
    restart_required: bool  # the stored value (or its removal) waits for the next start


def _view(live: LiveSettings, name: str) -> SettingView:
    change: Literal["runtime", "restart", "file"] = (
        "runtime" if name in RUNTIME_SETTINGS else "restart" if name in RESTART_SETTINGS else "file")
    return SettingView(name, to_json(name, getattr(live.current, name)), to_json(name, getattr(live.configured, name)),
                       live.stored.get(name), name in live.stored, change, live.restart_pending(name))


def settings_view(ctx: Context, actor: User) -> list[SettingView]:
    """Every setting but the secrets, in the order of config.Settings."""
    privileges.require(actor, Privilege.MANAGE_SETTINGS)
    return [_view(ctx.live, name) for name in listed()]


@dataclass(frozen=True, slots=True)
class SettingsChange:
    settings: list[SettingView]  # the settings the request named
    restart_required: bool


async def update_settings(ctx: Context, actor: User, changes: Mapping[str, Any], *, reason: str | None,
                          client: ClientInfo) -> SettingsChange:
    """Store CHANGES (None drops an override); 422 naming each refused setting, and then nothing is
    changed. Runtime settings take effect at once; restart ones say `restart_required`."""
    privileges.require(actor, Privilege.MANAGE_SETTINGS)
    await _change(ctx, actor, changes, reason=reason, client=client, event="settings_changed",
                  loc=lambda name: ["body", "settings", name])
    views = [_view(ctx.live, name) for name in changes]
    return SettingsChange(views, any(v.restart_required for v in views))


async def update_server_info(ctx: Context, actor: User, changes: Mapping[str, Any], *, reason: str | None,
                             client: ClientInfo) -> ServerInfo:
    """Change the public name, description, avatar or banner (keys of SERVER_INFO_FIELDS); an
    empty description, avatar or banner clears it."""
    privileges.require(actor, Privilege.MANAGE_SETTINGS)
    body_field = {setting: field for field, setting in SERVER_INFO_FIELDS.items()}
    await _change(ctx, actor, {SERVER_INFO_FIELDS[k]: v for k, v in changes.items()}, reason=reason,
                  client=client, event="server_info_changed", loc=lambda name: ["body", body_field.get(name, name)])
    return await server_info(ctx)


async def _change(ctx: Context, actor: User, changes: Mapping[str, Any], *, reason: str | None,
                  client: ClientInfo, event: str, loc: Callable[[str], list[str]]) -> None:
    live = ctx.live
    try:
        candidate, stored_changes = live.effective_if(changes)
    except InvalidSettings as exc:
        raise RuleViolation([{"loc": loc(name), "msg": msg, "type": "value_error"}
                             for name, msg in exc.problems.items()]) from None
    before = {name: to_json(name, getattr(live.current, name)) for name in changes}
    now = ctx.clock.time()

    def change_txn(conn: apsw.Connection) -> int:
        system_q.write_overrides(conn, {k: None if v is None else _dumps(v) for k, v in stored_changes.items()},
                                 by=actor.id, now=now)
        audit.record(conn, event, client=client, actor=f"user:{actor.id}", now=now, target="settings",
                     detail={"changes": {name: {"from": before[name], "to": stored_changes[name]}
                                         for name in changes}, "reason": reason})
        return system_q.count_members(conn)

    public_before = _public(ctx)
    members = await ctx.db.write(change_txn)
    live.apply(stored_changes, candidate)
    info = _info(ctx, members)
    if _public(ctx) != public_before:
        ctx.bus.publish(Event.to("server_updated", asdict(info), ctx.presence.everyone()))


def _public(ctx: Context) -> tuple[Any, ...]:
    s = ctx.settings
    return (s.server_name, s.server_description, s.server_avatar_url, s.server_banner_url, s.registration_mode,
            s.max_message_length, s.max_upload_size_bytes, s.max_users)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
