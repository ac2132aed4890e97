"""Outgoing federation requests (pufferd/federation/http.py) against a real local server, with DNS
answered by a resolver the test controls (DNS is the outside world): non-public addresses are
refused after resolution and at every redirect, redirects are capped, plain http needs
federation_allow_http, slow servers time out and large bodies are cut off."""
from __future__ import annotations

import asyncio
import socket
import ssl

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from tls_support import self_signed

from pufferd.config import Settings
from pufferd.federation.http import MAX_REDIRECTS, Fetcher, FetchError, public_address

TEST_SERVER = "127.0.0.1"  # where the test server listens; the fetcher is told it is public


class Resolver(AbstractResolver):
    """DNS for the test: NAME -> the addresses the test gives it; any other name does not exist."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"{host}: no such name")
        return [ResolveResult(hostname=host, host=a, port=port,
                              family=socket.AF_INET6 if ":" in a else socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST) for a in self.names[host]]

    async def close(self) -> None:
        pass


def _pretend_public(address: str) -> bool:
    return address == TEST_SERVER or public_address(address)


@pytest.fixture
async def server(aiohttp_server):
    app = web.Application()

    async def doc(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        target = request.query.get("to")
        location = target if target and n == 0 else (f"/hop/{n - 1}" if n > 0 else "/doc")
        return web.Response(status=302, headers={"Location": location})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"late": True})

    async def big(request: web.Request) -> web.Response:
        return web.json_response({"pad": "x" * 5000})

    app.router.add_get("/doc", doc)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/slow", slow)
    app.router.add_get("/big", big)
    return await aiohttp_server(app, host=TEST_SERVER)


def _fetcher(tmp_path, names: dict[str, list[str]], *, allow_http: bool = True, allow_private: bool = False,
             **extra: object) -> tuple[Fetcher, Resolver]:
    settings = Settings(data_dir=tmp_path, federation_enabled=True, federation_allow_http=allow_http,
                        federation_allow_private_addresses=allow_private, **extra)  # type: ignore[arg-type]
    resolver = Resolver(names)
    return Fetcher(settings, resolver=resolver, public=_pretend_public), resolver


@pytest.mark.parametrize("address", [
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "127.8.8.8", "0.0.0.0", "100.64.0.1",
    "169.254.169.254", "224.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fd00::1", "fc00::5", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    "2002:7f00:1::1", "2002:a00:1::", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "::127.0.0.1",
])
def test_non_public_addresses(address):
    assert public_address(address) is False


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "::ffff:93.184.216.34",
                                     "2002:5db8:d822::1", "64:ff9b::5db8:d822"])
def test_public_addresses(address):
    assert public_address(address) is True


async def test_a_public_name_is_fetched(tmp_path, server):
    fetcher, resolver = _fetcher(tmp_path, {"pub.test": [TEST_SERVER]})
    try:
        assert await fetcher.get_json(f"http://pub.test:{server.port}/doc") == {"ok": True}
        assert resolver.asked == ["pub.test"]
    finally:
        await fetcher.close()


@pytest.mark.parametrize("address", ["127.0.0.2", "10.0.0.7", "169.254.169.254", "fd12::1", "fe80::1",
                                     "::ffff:127.0.0.2", "::1"])
async def test_a_name_resolving_to_a_non_public_address_is_refused(tmp_path, server, address):
    # one public and one private address: refused all the same (the connection may use either)
    fetcher, resolver = _fetcher(tmp_path, {"sneaky.test": [TEST_SERVER, address]})
    try:
        with pytest.raises(FetchError, match="private, loopback or link-local"):
            await fetcher.get_json(f"http://sneaky.test:{server.port}/doc")
        assert resolver.asked == ["sneaky.test"]
        with pytest.raises(FetchError, match="private, loopback or link-local"):
            await fetcher.post(f"http://sneaky.test:{server.port}/doc", b"{}", {})
    finally:
        await fetcher.close()


async def test_private_addresses_pass_when_allowed(tmp_path, server):
    fetcher, _ = _fetcher(tmp_path, {"lan.test": ["127.0.0.1"]}, allow_private=True)
    try:
        assert await fetcher.get_json(f"http://lan.test:{server.port}/doc") == {"ok": True}
    finally:
        await fetcher.close()


@pytest.mark.parametrize("url", ["http://127.0.0.2/doc", "http://[::1]/doc", "http://[::ffff:7f00:2]/doc",
                                 "http://169.254.169.254/latest", "http://[fd00::1]/x"])
async def test_literal_non_public_addresses_are_refused_without_a_request(tmp_path, url):
    fetcher, resolver = _fetcher(tmp_path, {})
    try:
        with pytest.raises(FetchError, match="addresses are refused"):
            await fetcher.get_json(url)
        assert resolver.asked == []
    finally:
        await fetcher.close()


async def test_every_redirect_is_checked(tmp_path, server):
    fetcher, resolver = _fetcher(tmp_path, {"pub.test": [TEST_SERVER], "intranet.test": ["10.0.0.8"]})
    base = f"http://pub.test:{server.port}"
    try:
        # two public hops, then one to a private address
        with pytest.raises(FetchError, match="private, loopback or link-local"):
            await fetcher.get_json(f"{base}/hop/0?to=http://intranet.test:{server.port}/doc")
        assert "intranet.test" in resolver.asked
        with pytest.raises(FetchError, match="addresses are refused"):
            await fetcher.get_json(f"{base}/hop/0?to=http://169.254.169.254/latest/meta-data")
    finally:
        await fetcher.close()


async def test_plain_http_and_other_schemes_are_refused_unless_allowed(tmp_path):
    fetcher, _ = _fetcher(tmp_path, {}, allow_http=False)
    try:
        with pytest.raises(FetchError, match="plain http is refused"):
            await fetcher.get_json("http://pub.test/doc")
        with pytest.raises(FetchError, match="plain http is refused"):
            await fetcher.post("http://pub.test/inbox", b"{}", {})
        with pytest.raises(FetchError, match="not an http"):
            await fetcher.get_json("file:///etc/passwd")
    finally:
        await fetcher.close()


async def test_redirects_are_capped(tmp_path, server):
    fetcher, _ = _fetcher(tmp_path, {"pub.test": [TEST_SERVER]})
    base = f"http://pub.test:{server.port}"
    try:
        assert await fetcher.get_json(f"{base}/hop/{MAX_REDIRECTS - 1}") == {"ok": True}  # MAX_REDIRECTS hops
        with pytest.raises(FetchError, match="redirects"):
            await fetcher.get_json(f"{base}/hop/{MAX_REDIRECTS}")
    finally:
        await fetcher.close()


async def test_a_slow_server_times_out(tmp_path, server):
    fetcher, _ = _fetcher(tmp_path, {"pub.test": [TEST_SERVER]}, federation_timeout_seconds=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(FetchError, match="Timeout"):
            await fetcher.get_json(f"http://pub.test:{server.port}/slow")
    finally:
        await fetcher.close()
    assert loop.time() - started < 1.5


async def test_a_large_body_is_cut_off(tmp_path, server):
    fetcher, _ = _fetcher(tmp_path, {"pub.test": [TEST_SERVER]}, federation_max_body_bytes=1024)
    try:
        with pytest.raises(FetchError, match="federation_max_body_bytes"):
            await fetcher.get_json(f"http://pub.test:{server.port}/big")
        assert await fetcher.get_json(f"http://pub.test:{server.port}/doc") == {"ok": True}
    finally:
        await fetcher.close()


async def test_https_trusts_the_ca_file_in_force_at_the_first_request(tmp_path, aiohttp_server, monkeypatch):
    """The fetcher's TLS context is its own, made by its first request: SSL_CERT_FILE set after
    aiohttp was imported counts (`serve` imports aiohttp without loading any CA file,
    pufferd/cli.py), and a certificate that file does not vouch for is refused."""
    cert, key = self_signed(tmp_path / "server")  # for localhost
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    app = web.Application()

    async def doc(request: web.Request) -> web.Response:
        return web.json_response({"ok": "over https"})

    app.router.add_get("/doc", doc)
    server = await aiohttp_server(app, host=TEST_SERVER, ssl=server_tls)
    url = f"https://localhost:{server.port}/doc"

    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed(tmp_path / "other")[0]))
    stranger, _ = _fetcher(tmp_path, {"localhost": [TEST_SERVER]}, allow_http=False)
    try:
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await stranger.get_json(url)
    finally:
        await stranger.close()

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    trusting, _ = _fetcher(tmp_path, {"localhost": [TEST_SERVER]}, allow_http=False)
    try:
        assert await trusting.get_json(url) == {"ok": "over https"}
        assert await trusting.post(url.replace("/doc", "/nowhere"), b"{}", {}) == 404  # the same session
    finally:
        await trusting.close()
