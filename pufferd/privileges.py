"""Server-wide roles and what each may do: the one place such checks are answered (DESIGN.md).

Every role holds a fixed, documented set of privileges (the table in README, "Administration").
Code asks `has(user, Privilege.X)` or `require(user, Privilege.X)`, and `outranks(actor, target)`
before acting on another person; nothing else compares role names. The role is stored in
users.role (migration 0050); exactly one user is the owner.
"""
from __future__ import annotations

from enum import StrEnum

from pufferd.db.users_q import User
from pufferd.errors import Forbidden


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MODERATOR = "moderator"
    USER = "user"


class Privilege(StrEnum):
    MANAGE_SETTINGS = "manage_settings"  # server info and runtime settings, invite codes
    MANAGE_ROLES = "manage_roles"        # change another user's role (within outranks)
    BAN = "ban"                          # ban and time out users
    RESOLVE_REPORTS = "resolve_reports"  # see and resolve the report queue
    DELETE_CONTENT = "delete_content"    # delete any message or file as moderation
    BLOCK_IPS = "block_ips"              # block and unblock addresses and ranges
    VIEW_AUDIT = "view_audit"            # the audit log and the activity feed
    VIEW_ANALYTICS = "view_analytics"    # statistics, charts, usage monitoring
    MANAGE_FILES = "manage_files"        # list and delete anyone's files, run the orphan clean-up


_MODERATION = frozenset({Privilege.BAN, Privilege.RESOLVE_REPORTS, Privilege.DELETE_CONTENT})

# Owner and admin hold the same privileges; what only the owner may do (make an owner, change
# an admin's role) follows from outranks(): an admin does not outrank another admin.
ROLE_PRIVILEGES: dict[Role, frozenset[Privilege]] = {
    Role.OWNER: frozenset(Privilege),
    Role.ADMIN: frozenset(Privilege),
    Role.MODERATOR: _MODERATION,
    Role.USER: frozenset(),
}

_RANK = {Role.USER: 0, Role.MODERATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


def privileges_of(role: str) -> frozenset[Privilege]:
    """The fixed privileges of ROLE; ValueError for a name that is not a role."""
    return ROLE_PRIVILEGES[Role(role)]


def has(user: User, privilege: Privilege) -> bool:
    """USER's role grants PRIVILEGE and the account is enabled."""
    return not user.is_disabled and privilege in privileges_of(user.role)


def require(user: User, privilege: Privilege) -> None:
    """Raise Forbidden naming PRIVILEGE unless `has(user, privilege)`."""
    if not has(user, privilege):
        raise Forbidden(f"this needs the {privilege.value} privilege, which the {user.role} role does not have")


def rank(role: str) -> int:
    """Owner 3 > admin 2 > moderator 1 > user 0."""
    return _RANK[Role(role)]


def outranks(actor: User, target: User) -> bool:
    """ACTOR's role is strictly above TARGET's: moderators cannot act on moderators, admins or the
    owner; admins not on other admins or the owner; nobody outranks the owner."""
    return rank(actor.role) > rank(target.role)
