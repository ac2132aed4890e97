"""Who is on the other end of a request: client IP (API reference section 12) and user agent.

The client IP is the socket peer. Only when the peer is one of settings.trusted_proxies is
X-Forwarded-For honoured, read from the right: the first address that is not itself a trusted
proxy is the client. A client can put anything in that header, so it is never trusted blindly.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web

from pufferd.audit import ClientInfo
from pufferd.web.keys import CTX

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(text: str) -> IPAddress | None:
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def client_ip(peer: str | None, forwarded_for: Iterable[str], trusted_proxies: Sequence[str]) -> str | None:
    """The client address of a request from PEER carrying the X-Forwarded-For header values given."""
    peer_addr = _parse(peer) if peer else None
    if peer_addr is None:
        return peer
    if not trusted_proxies:
        return str(peer_addr)
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted_proxies]

    def trusted(addr: IPAddress) -> bool:
        return any(addr.version == net.version and addr in net for net in networks)

    if not trusted(peer_addr):
        return str(peer_addr)
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _parse(hop)
        if addr is None:
            # a trusted proxy appended something that is not an address: stop believing the chain
            return str(peer_addr)
        if not trusted(addr):
            return str(addr)
    first = _parse(hops[0]) if hops else None
    return str(first or peer_addr)


def client_info(request: web.Request) -> ClientInfo:
    settings = request.app[CTX].settings
    ip = client_ip(request.remote, request.headers.getall("X-Forwarded-For", []), settings.trusted_proxies)
    return ClientInfo.of(ip, request.headers.get("User-Agent"))
