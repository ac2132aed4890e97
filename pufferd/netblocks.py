"""The blocked networks in memory, so checking a request costs microseconds (pufferd/ipblocks.py
keeps it equal to the ip_blocks table).

Blocks are grouped by address family and prefix length: a dict from the network's prefix (as an
int) to the block. Looking an address up is one shift and one dict probe per prefix length in
use, so ten thousand single addresses and a few ranges cost about as much as one block.
Refused requests are counted here and written to the database in batches (`take_attempts`).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Blocked:
    id: int
    network: Network
    expires_at: float | None


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address, IPv4-mapped IPv6 as IPv4 (as the client-IP rule gives it); None if not one."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_network(text: str) -> Network:
    """An address or CIDR range in its normal form ("10.1.2.3/24" -> 10.1.2.0/24, an address ->
    /32 or /128, IPv4-mapped IPv6 -> IPv4); ValueError saying what is wrong otherwise."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv4 or IPv6 address or CIDR range (e.g. 203.0.113.7,"
                         " 198.51.100.0/24, 2001:db8::/32)") from None
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.subnet_of(_MAPPED):
        return ipaddress.IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96))
    return net


class BlockList:
    """Active blocks by family and prefix length; attempt counts since the last take."""

    def __init__(self, blocks: Iterable[Blocked] = ()) -> None:
        self._by_id: dict[int, Blocked] = {}
        # version -> prefix length -> network prefix as int -> block
        self._tables: dict[int, dict[int, dict[int, Blocked]]] = {4: {}, 6: {}}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}  # prefix lengths in use, longest first
        self._attempts: dict[int, tuple[int, float]] = {}
        for b in blocks:
            self.add(b)

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, block: Blocked) -> None:
        self.remove(block.id)
        net = block.network
        table = self._tables[net.version].setdefault(net.prefixlen, {})
        table[int(net.network_address) >> (net.max_prefixlen - net.prefixlen)] = block
        self._by_id[block.id] = block
        self._lengths[net.version] = sorted(self._tables[net.version], reverse=True)

    def remove(self, block_id: int) -> None:
        old = self._by_id.pop(block_id, None)
        if old is None:
            return
        net = old.network
        table = self._tables[net.version].get(net.prefixlen, {})
        key = int(net.network_address) >> (net.max_prefixlen - net.prefixlen)
        if table.get(key) is old:
            del table[key]
        if not table:
            self._tables[net.version].pop(net.prefixlen, None)
            self._lengths[net.version] = sorted(self._tables[net.version], reverse=True)

    def match(self, ip: str | None, now: float) -> Blocked | None:
        """The block covering IP (the narrowest when several do) that has not expired at NOW."""
        if not self._by_id or ip is None:
            return None
        addr = parse_address(ip)
        if addr is None:
            return None
        value, bits = int(addr), addr.max_prefixlen
        tables = self._tables[addr.version]
        for prefixlen in self._lengths[addr.version]:
            block = tables[prefixlen].get(value >> (bits - prefixlen))
            if block is not None and (block.expires_at is None or block.expires_at > now):
                return block
        return None

    def count_attempt(self, block: Blocked, now: float) -> None:
        n, _ = self._attempts.get(block.id, (0, now))
        self._attempts[block.id] = (n + 1, now)

    def take_attempts(self) -> dict[int, tuple[int, float]]:
        """The refused requests counted since the last take: block id -> (count, latest time)."""
        taken, self._attempts = self._attempts, {}
        return taken

    def return_attempts(self, taken: dict[int, tuple[int, float]]) -> None:
        """Put counts back after a failed write, to be written with the next batch."""
        for block_id, (n, at) in taken.items():
            m, latest = self._attempts.get(block_id, (0, at))
            self._attempts[block_id] = (n + m, max(at, latest))
