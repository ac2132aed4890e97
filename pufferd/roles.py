"""Server roles of people (issue 13, item 1): who may give which role to whom, and the user list
administrators work from. What each role may do is pufferd/privileges.py.

The rules of a role change, for the API and the command line alike (`change_role_txn`):
- the caller needs MANAGE_ROLES, must outrank the person (privileges.outranks) and cannot change
  their own role; they give only roles below their own, except that the owner may make another
  user the owner: ownership moves, and the old owner becomes an admin in the same transaction;
- the owner is never demoted otherwise: there is always exactly one (migration 0050);
- a disabled account cannot become the owner.
The command line (`pufferd admin set-role`) acts with the owner's authority.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import apsw

from pufferd import audit, privileges
from pufferd.audit import ClientInfo
from pufferd.context import Context
from pufferd.db import system_q, users_q
from pufferd.db.users_q import User
from pufferd.errors import Conflict, Forbidden, NotFound
from pufferd.privileges import Privilege, Role

UserState = Literal["active", "disabled", "banned", "timed_out"]  # pufferd/moderation.py state_of


@dataclass(frozen=True, slots=True)
class RoleChange:
    user: User                 # the person, after the change
    previous_role: str
    previous_owner: User | None = None  # set when ownership moved: now an admin


def change_role_txn(conn: apsw.Connection, *, actor_id: int | None, actor_label: str, target_id: int,
                    role: Role, reason: str | None, client: ClientInfo, now: float) -> RoleChange:
    """Give TARGET_ID the ROLE by the rules above; ACTOR_ID None is the command line (owner's
    authority). Audited with ACTOR_LABEL ('user:<id>' or 'cli:<name>'), reason and client."""
    target = users_q.get(conn, target_id)
    if target is None:
        raise NotFound("user not found")
    if actor_id is not None:
        actor = users_q.get(conn, actor_id)
        if actor is None:
            raise NotFound("user not found")
        privileges.require(actor, Privilege.MANAGE_ROLES)
        if actor.id == target.id:
            raise Forbidden("you cannot change your own role (the owner hands over ownership by making"
                            " another user the owner)")
        if not privileges.outranks(actor, target):
            raise Forbidden(f"a {actor.role} cannot change the role of a {target.role}")
        if role == Role.OWNER and actor.role != Role.OWNER:
            raise Forbidden("only the owner can make another user the owner")
        if role != Role.OWNER and privileges.rank(role) >= privileges.rank(actor.role):
            raise Forbidden(f"a {actor.role} can give only lower roles than {actor.role}")
    if target.role == role:
        return RoleChange(target, target.role)
    if target.role == Role.OWNER:
        raise Conflict(f"{target.username} is the owner, and the server always has one: make another user"
                       " the owner first")
    previous_owner = None
    if role == Role.OWNER:
        if target.is_disabled:
            raise Conflict(f"{target.username} is disabled and cannot become the owner")
        old = users_q.owner(conn)
        if old is not None:
            users_q.set_role(conn, old.id, Role.ADMIN, now)
            audit.record(conn, "role_changed", client=client, user_id=old.id, actor=actor_label, now=now,
                         detail={"from": Role.OWNER.value, "to": Role.ADMIN.value, "reason": reason,
                                 "ownership_to": target.id})
            previous_owner = users_q.get(conn, old.id)
    users_q.set_role(conn, target.id, role, now)
    audit.record(conn, "role_changed", client=client, user_id=target.id, actor=actor_label, now=now,
                 detail={"from": target.role, "to": role.value, "reason": reason})
    return RoleChange(users_q.get(conn, target.id), target.role, previous_owner)  # type: ignore[arg-type]


async def change_role(ctx: Context, actor: User, target_id: int, role: Role, *, reason: str | None,
                      client: ClientInfo) -> RoleChange:
    """Change a person's role over the API (rules in the module docstring); the new privileges
    hold from their next request."""
    privileges.require(actor, Privilege.MANAGE_ROLES)
    now = ctx.clock.time()
    change = await ctx.db.write(lambda conn: change_role_txn(
        conn, actor_id=actor.id, actor_label=f"user:{actor.id}", target_id=target_id, role=role,
        reason=reason, client=client, now=now))
    ctx.auth_cache.invalidate(change.user.id)
    if change.previous_owner is not None:
        ctx.auth_cache.invalidate(change.previous_owner.id)
    return change


async def list_users(ctx: Context, actor: User, *, limit: int, after_id: int = 0, role: Role | None = None,
                     state: UserState | None = None, search: str | None = None) -> list[User]:
    """Accounts by id, for administrators; ROLE, STATE (now) and SEARCH (part of a username, e-mail
    address or name) narrow the list."""
    privileges.require(actor, Privilege.MANAGE_ROLES)
    now = ctx.clock.time()
    return await ctx.db.read(lambda conn: system_q.list_users(
        conn, limit=limit, after_id=after_id, role=role.value if role else None, state=state, now=now,
        search=search))
