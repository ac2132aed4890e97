"""IP blocks (issue 13, item 4): administrators block addresses and CIDR ranges, IPv4 and IPv6,
with a reason and an optional expiry.

The table ip_blocks is the record; the server checks requests against ctx.ip_blocks, a
netblocks.BlockList loaded at start-up and changed right after each commit, before any
authentication (pufferd/web/ipguard.py), with the client address the rate limiter uses
(pufferd/web/client.py: X-Forwarded-For only from `trusted_proxies`). Refused requests are counted
in memory and added to ip_blocks.attempts every ATTEMPTS_FLUSH_SECONDS in one transaction.
An administrator cannot block the address they call from unless they say `force`.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import apsw

from pufferd import audit, periodic, privileges
from pufferd.audit import ClientInfo
from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db import system_q
from pufferd.db.database import Database
from pufferd.db.system_q import IpBlock
from pufferd.db.users_q import User
from pufferd.errors import Conflict, Forbidden, NotFound, field_error
from pufferd.netblocks import Blocked, BlockList, parse_address, parse_network
from pufferd.privileges import Privilege

log = logging.getLogger("pufferd.ipblocks")

ATTEMPTS_FLUSH_SECONDS = 10.0


def _blocked(row: IpBlock) -> Blocked:
    return Blocked(row.id, parse_network(row.network), row.expires_at)


def load(db: Database, now: float) -> BlockList:
    """The blocks not expired at NOW, read before the server starts (Database.write_sync)."""
    return BlockList(_blocked(b) for b in db.write_sync(lambda conn: system_q.ip_blocks(conn, active_at=now)))


def refused(ctx: Context, ip: str | None) -> Forbidden | None:
    """The 403 for a request from IP when a block covers it (the attempt is counted), else None."""
    now = ctx.clock.time()
    block = ctx.ip_blocks.match(ip, now)
    if block is None:
        return None
    ctx.ip_blocks.count_attempt(block, now)
    until = f" until {iso(block.expires_at)}" if block.expires_at is not None else ""
    return Forbidden(f"Requests from your address ({ip}) are blocked on this server{until}")


async def list_blocks(ctx: Context, actor: User, *, limit: int, after_id: int = 0) -> list[IpBlock]:
    """Every block by id (expired ones too), with attempts counted up to the last batch write."""
    privileges.require(actor, Privilege.BLOCK_IPS)
    return await ctx.db.read(lambda conn: system_q.ip_block_page(conn, limit=limit, after_id=after_id))


async def block(ctx: Context, actor: User, *, network: str, reason: str | None, expires_at: float | None,
                force: bool, client: ClientInfo) -> IpBlock:
    """Block NETWORK (an address or a CIDR range). 409 when it would cover the caller's own address
    and FORCE is not set, or when the same network is already blocked and has not expired."""
    privileges.require(actor, Privilege.BLOCK_IPS)
    net = parse_network(network)
    now = ctx.clock.time()
    if expires_at is not None and expires_at <= now:
        raise field_error("expires_at", "expires_at must be in the future")
    own = parse_address(client.ip) if client.ip else None
    if own is not None and own.version == net.version and own in net and not force:
        raise Conflict(f"{net} covers the address you are calling from ({own}): you would lock yourself out."
                       " Send force: true to block it anyway")

    def block_txn(conn: apsw.Connection) -> IpBlock:
        existing = system_q.ip_block_by_network(conn, str(net))
        if existing is not None:
            if existing.expires_at is None or existing.expires_at > now:
                raise Conflict(f"{net} is already blocked (block {existing.id})")
            system_q.delete_ip_block(conn, existing.id)
        row = system_q.insert_ip_block(conn, network=str(net), reason=reason, expires_at=expires_at,
                                       by=actor.id, now=now)
        audit.record(conn, "ip_blocked", client=client, actor=f"user:{actor.id}", now=now, target=f"ip:{net}",
                     detail={"network": str(net), "reason": reason, "expires_at": iso(expires_at),
                             "forced": force and own is not None and own in net})
        return row

    row = await ctx.db.write(block_txn)
    ctx.ip_blocks.add(_blocked(row))
    log.info("blocked %s (block %d) by user %d", row.network, row.id, actor.id)
    return row


async def unblock(ctx: Context, actor: User, block_id: int, *, reason: str | None, client: ClientInfo) -> None:
    """Remove block BLOCK_ID; requests from its addresses are allowed again at once."""
    privileges.require(actor, Privilege.BLOCK_IPS)
    now = ctx.clock.time()

    def unblock_txn(conn: apsw.Connection) -> None:
        row = system_q.get_ip_block(conn, block_id)
        if row is None:
            raise NotFound("IP block not found")
        system_q.delete_ip_block(conn, block_id)
        audit.record(conn, "ip_unblocked", client=client, actor=f"user:{actor.id}", now=now,
                     target=f"ip:{row.network}",
                     detail={"network": row.network, "reason": reason, "attempts": row.attempts})

    await ctx.db.write(unblock_txn)
    ctx.ip_blocks.remove(block_id)


async def flush_attempts(ctx: Context) -> int:
    """Add the refused requests counted since the last flush to ip_blocks.attempts, in one write."""
    taken = ctx.ip_blocks.take_attempts()
    if not taken:
        return 0
    try:
        await ctx.db.write(lambda conn: system_q.add_ip_block_attempts(conn, taken))
    except BaseException:
        ctx.ip_blocks.return_attempts(taken)
        raise
    return sum(n for n, _ in taken.values())


@asynccontextmanager
async def lifecycle(ctx: Context) -> AsyncIterator[None]:
    """Write counted attempts every ATTEMPTS_FLUSH_SECONDS while the server runs, and once at the end."""
    async with periodic.running("ip block attempts", ATTEMPTS_FLUSH_SECONDS, lambda: flush_attempts(ctx),
                                board=ctx.tasks):
        yield
    await flush_attempts(ctx)
