"""Who may register (issue 13, item 2): the registration mode, the account limit and server
invite codes.

`registration_mode` (a runtime setting): `open` lets anyone register; `invite_only` needs a valid
invite code; `closed` refuses every registration (403). `max_users` (0: no limit) caps the
accounts registration may create; `pufferd admin create-user` is not limited by either.
Administrators with MANAGE_SETTINGS create codes (optionally limited in uses and time), list and
revoke them. A code is shown once, when it is created; only its hash and first characters are
kept. A use is recorded in the registration's own transaction (`admit_txn`, `joined_txn`), so
two people cannot both take the last use of a code.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import apsw

from pufferd import audit, privileges
from pufferd.audit import ClientInfo
from pufferd.config import Settings
from pufferd.context import Context
from pufferd.db import system_q, users_q
from pufferd.db.system_q import Invite
from pufferd.db.users_q import User
from pufferd.errors import Forbidden, NotFound, field_error
from pufferd.privileges import Privilege

HINT_CHARS = 4
CLOSED = "Registration is closed on this server"
CODE_REQUIRED = "Registration on this server is by invitation: send an invite_code"
CODE_INVALID = "invite_code is not valid: it is unknown, used up, expired or revoked"


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewInvite:
    invite: Invite
    code: str  # shown this once


async def create(ctx: Context, actor: User, *, max_uses: int | None, expires_at: float | None,
                 note: str | None, client: ClientInfo) -> NewInvite:
    """A new random code; MAX_USES None and EXPIRES_AT None mean no limit."""
    privileges.require(actor, Privilege.MANAGE_SETTINGS)
    now = ctx.clock.time()
    if expires_at is not None and expires_at <= now:
        raise field_error("expires_at", "expires_at must be in the future")
    code = secrets.token_urlsafe(12)

    def create_txn(conn: apsw.Connection) -> Invite:
        invite = system_q.insert_invite(conn, code_hash=_hash(code), code_hint=code[:HINT_CHARS], note=note,
                                        max_uses=max_uses, expires_at=expires_at, by=actor.id, now=now)
        audit.record(conn, "invite_created", client=client, actor=f"user:{actor.id}", now=now,
                     target=f"invite:{invite.id}", detail={"max_uses": max_uses, "expires_at": expires_at,
                                                           "note": note})
        return invite

    return NewInvite(await ctx.db.write(create_txn), code)


async def list_invites(ctx: Context, actor: User, *, limit: int, before_id: int | None = None) -> list[Invite]:
    """Codes newest first, with their uses (never the code itself)."""
    privileges.require(actor, Privilege.MANAGE_SETTINGS)
    return await ctx.db.read(lambda conn: system_q.list_invites(conn, limit=limit, before_id=before_id))


async def revoke(ctx: Context, actor: User, invite_id: int, *, reason: str | None, client: ClientInfo) -> Invite:
    """The code stops working at once; accounts made with it stay. Revoking twice changes nothing."""
    privileges.require(actor, Privilege.MANAGE_SETTINGS)
    now = ctx.clock.time()

    def revoke_txn(conn: apsw.Connection) -> Invite:
        invite = system_q.get_invite(conn, invite_id)
        if invite is None:
            raise NotFound("invite not found")
        if invite.revoked_at is None:
            system_q.revoke_invite(conn, invite_id, by=actor.id, now=now)
            audit.record(conn, "invite_revoked", client=client, actor=f"user:{actor.id}", now=now,
                         target=f"invite:{invite_id}", detail={"reason": reason, "uses": invite.uses})
        return system_q.get_invite(conn, invite_id)  # type: ignore[return-value]

    return await ctx.db.write(revoke_txn)


def admit_txn(conn: apsw.Connection, settings: Settings, invite_code: str | None, now: float) -> Invite | None:
    """May one more person register now? Raise 403 saying why not; return the invite that admits
    them (counted by joined_txn), or None when registration is open and no valid code was sent."""
    if settings.registration_mode == "closed":
        raise Forbidden(CLOSED)
    if settings.max_users and users_q.count(conn) >= settings.max_users:
        raise Forbidden(f"This server has reached its limit of {settings.max_users} accounts")
    invite = system_q.invite_by_hash(conn, _hash(invite_code)) if invite_code else None
    usable = invite if invite is not None and invite.usable(now) else None
    if settings.registration_mode == "invite_only":
        if not invite_code:
            raise Forbidden(CODE_REQUIRED)
        if usable is None:
            raise Forbidden(CODE_INVALID)
    return usable


def joined_txn(conn: apsw.Connection, invite: Invite | None, user_id: int, now: float) -> None:
    """Count the use of INVITE by the account USER_ID just created (same transaction)."""
    if invite is not None:
        system_q.record_invite_use(conn, invite.id, user_id, now)
