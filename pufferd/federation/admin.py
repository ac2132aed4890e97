"""Federation administration (MANAGE_SETTINGS): the delivery queue and the domain list."""
from __future__ import annotations

import apsw

from pufferd import privileges
from pufferd.context import Context
from pufferd.db import federation_q
from pufferd.db.federation_q import Delivery, Host
from pufferd.db.users_q import User
from pufferd.errors import NotFound, RuleViolation
from pufferd.federation import actors
from pufferd.privileges import Privilege


async def queue(ctx: Context, admin: User, *, state: str | None, limit: int, before_id: int | None) -> list[Delivery]:
    """The delivery queue newest first: every row with its attempts and last result."""
    privileges.require(admin, Privilege.MANAGE_SETTINGS)
    return await ctx.db.read(lambda conn: federation_q.queue_page(conn, state=state, limit=limit, before_id=before_id))


async def retry_now(ctx: Context, admin: User, delivery_id: int) -> Delivery:
    """Make a pending or failed delivery due now and wake the worker (404: none, or delivered)."""
    privileges.require(admin, Privilege.MANAGE_SETTINGS)
    now = ctx.clock.time()
    row = await ctx.db.write(lambda conn: federation_q.retry_now(conn, delivery_id, now))
    if row is None:
        raise NotFound("Delivery not found (or delivered already)")
    ctx.federation.poke()
    return row


async def hosts(ctx: Context, admin: User) -> list[Host]:
    """Remote hosts failing since their last success, the ones marked down first."""
    privileges.require(admin, Privilege.MANAGE_SETTINGS)
    return await ctx.db.read(federation_q.hosts)


async def domains(ctx: Context, admin: User) -> list[str]:
    privileges.require(admin, Privilege.MANAGE_SETTINGS)
    return await ctx.db.read(federation_q.domains)


async def set_domain(ctx: Context, admin: User, domain: str, *, listed: bool) -> list[str]:
    """Add DOMAIN to the list (blocked, or allowed in allowlist mode) or remove it."""
    privileges.require(admin, Privilege.MANAGE_SETTINGS)
    domain = domain.strip().lower()
    if not domain or "/" in domain or " " in domain:
        raise RuleViolation("domain: a host name, e.g. example.org")
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> list[str]:
        if listed:
            federation_q.add_domain(conn, domain, now)
        else:
            federation_q.remove_domain(conn, domain)
        return federation_q.domains(conn)
    result = await ctx.db.write(txn)
    actors.state(ctx).domains = set(result)
    return result
