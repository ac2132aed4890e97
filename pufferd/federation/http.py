"""Outgoing HTTP for federation, safe against server-side request forgery (issue 15, item 7).

Every request: https unless federation_allow_http; the host's addresses (after DNS, and for every
redirect) must be public unless federation_allow_private_addresses; connect and read timeouts;
a body cap; at most MAX_REDIRECTS redirects (GET only). This is an adapter to the outside world
(like the mailer), so it uses aiohttp's client, with a TLS context of its own: the system's CA
certificates (or SSL_CERT_FILE's) are loaded on a thread when the first request is made, not
when the server starts (`serve` imports aiohttp without them: pufferd/cli.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from pufferd import __version__
from pufferd.config import Settings

MAX_REDIRECTS = 3
AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
USER_AGENT = f"pufferd/{__version__}"
Signer = Callable[[str, str, bytes | None], dict[str, str]]


class FetchError(Exception):
    """A remote request was refused by our rules or failed; `status` is the remote answer, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def public_address(address: str) -> bool:
    """ADDRESS is a global unicast address; an IPv6 address embedding an IPv4 one (IPv4-mapped,
    6to4, NAT64, IPv4-compatible) counts as the IPv4 address it reaches."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_global and not ip.is_multicast


class RefusedAddress(OSError):
    """A name resolved to an address our rules refuse (raised inside aiohttp's connector)."""


def _why(exc: BaseException) -> str:
    """The message of a failed request: our refusal when the resolver refused, else the error."""
    refused = getattr(exc, "os_error", None) or exc.__cause__
    if isinstance(refused, RefusedAddress):
        return str(refused)
    return f"{exc.__class__.__name__}: {exc}"


class _SafeResolver(AbstractResolver):
    """DNS through the default resolver, refusing any name with a non-public address."""

    def __init__(self, allow_private: bool, inner: AbstractResolver | None = None,
                 public: Callable[[str], bool] = public_address) -> None:
        self.inner = inner or ThreadedResolver()
        self.allow_private = allow_private
        self.public = public

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        if not self.allow_private and any(not self.public(r["host"]) for r in results):
            raise RefusedAddress(f"{host} resolves to a private, loopback or link-local address")
        return results

    async def close(self) -> None:
        await self.inner.close()


class Fetcher:
    """One client session for every federation request of the process."""

    def __init__(self, settings: Settings, *, resolver: AbstractResolver | None = None,
                 public: Callable[[str], bool] = public_address) -> None:
        """RESOLVER (DNS, the system's by default) and PUBLIC (which addresses count as public) are
        for tests, whose servers listen on loopback."""
        self.settings = settings
        self.resolver = resolver
        self.public = public
        self._session: aiohttp.ClientSession | None = None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        # parsing the CA file takes tens of milliseconds: not on the event loop
        tls = await asyncio.to_thread(ssl.create_default_context)
        if self._session is None:  # a request started meanwhile may have made it
            s = self.settings
            timeout = aiohttp.ClientTimeout(total=s.federation_timeout_seconds * 2,
                                            sock_connect=s.federation_timeout_seconds,
                                            sock_read=s.federation_timeout_seconds)
            connector = aiohttp.TCPConnector(resolver=_SafeResolver(s.federation_allow_private_addresses,
                                                                   self.resolver, self.public),
                                             limit=100, ssl=tls)
            self._session = aiohttp.ClientSession(timeout=timeout, connector=connector,
                                                  headers={"User-Agent": USER_AGENT})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def check_url(self, url: str) -> str:
        """URL's host[:port] when our rules allow a request to it; FetchError otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url[:200]}")
        if parts.scheme == "http" and not self.settings.federation_allow_http:
            raise FetchError("plain http is refused (federation_allow_http)")
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            literal = None
        if (literal is not None and not self.settings.federation_allow_private_addresses
                and not self.public(str(literal))):
            raise FetchError("private, loopback and link-local addresses are refused")
        return parts.netloc.lower()

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        cap = self.settings.federation_max_body_bytes
        data = bytearray()
        async for chunk in resp.content.iter_chunked(65536):
            data += chunk
            if len(data) > cap:
                raise FetchError("the remote answer is larger than federation_max_body_bytes")
        return bytes(data)

    @contextlib.asynccontextmanager
    async def _get(self, url: str, *, accept: str,
                   signer: Signer | None) -> AsyncIterator[tuple[str, aiohttp.ClientResponse]]:
        """(the URL answered, its response) of GET URL after at most MAX_REDIRECTS redirects, each
        one checked and signed again; a transport failure, also while the caller reads the body,
        is a FetchError."""
        for _ in range(MAX_REDIRECTS + 1):
            self.check_url(url)
            headers = {"Accept": accept}
            if signer is not None:
                headers.update(signer("GET", url, None))
            try:
                async with (await self._client()).get(url, headers=headers, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    yield url, resp
                    return
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise FetchError(f"GET {url[:200]}: {_why(exc)}") from None
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def get_json(self, url: str, *, accept: str = AP_ACCEPT, signer: Signer | None = None) -> Any:
        """GET URL as JSON, following at most MAX_REDIRECTS redirects, each one checked."""
        async with self._get(url, accept=accept, signer=signer) as (url, resp):
            body = await self._read(resp)
            if resp.status != 200:
                raise FetchError(f"GET {url[:200]}: {resp.status}", resp.status)
        try:
            return json.loads(body)
        except ValueError:
            raise FetchError(f"GET {url[:200]}: not JSON") from None

    async def stream(self, url: str, *, max_bytes: int, signer: Signer | None = None,
                     chunk_size: int = 65536) -> AsyncGenerator[bytes, None]:
        """GET URL (a remote file), yielding its body in chunks; the same rules as get_json (each
        redirect checked, at most MAX_REDIRECTS). FetchError for an answer other than 200, a
        Content-Length above MAX_BYTES (before any byte is read), or a body growing past it
        (counted while streaming: nothing beyond MAX_BYTES plus one chunk is ever read)."""
        async with self._get(url, accept="*/*", signer=signer) as (url, resp):
            if resp.status != 200:
                raise FetchError(f"GET {url[:200]}: {resp.status}", resp.status)
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise FetchError(f"GET {url[:200]}: {resp.content_length} bytes, more than {max_bytes}")
            total = 0
            async for chunk in resp.content.iter_chunked(chunk_size):
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(f"GET {url[:200]}: larger than {max_bytes} bytes")
                yield chunk

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST BODY to URL (no redirects); the status, FetchError when it could not be sent."""
        self.check_url(url)
        try:
            async with (await self._client()).post(url, data=body, headers=headers, allow_redirects=False) as resp:
                await self._read(resp)
                return resp.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise FetchError(f"POST {url[:200]}: {_why(exc)}") from None
