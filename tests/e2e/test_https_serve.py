"""A real `pufferd serve` terminating TLS itself: the HTTP API and WebSocket over https:// and
wss://, SIGHUP reloading the certificate under an open socket, the HTTP→HTTPS redirect, HSTS,
and a bad certificate refused before anything changes."""
from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest
import requests
from cryptography import x509
from e2e_support import ServerProcess, run_pufferd, snapshot
from tls_support import PLAIN, self_signed, served_certificate, trusting

PASSWORD = "bob-password-1"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path / "tls", "first")


@pytest.fixture
def tls_server(start_server, initialised_dir: Path, cert: tuple[Path, Path]) -> ServerProcess:
    cert_file, key_file = cert
    return start_server(initialised_dir, env={"PUFFERD_TLS_CERT_FILE": str(cert_file),
                                              "PUFFERD_TLS_KEY_FILE": str(key_file),
                                              "PUFFERD_HTTP_PORT": "0"})


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _wait_for(server: ServerProcess, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{server.log()}"
        time.sleep(0.05)


async def _json(resp: aiohttp.ClientResponse, status: int) -> object:
    body = await resp.json()
    assert resp.status == status, body
    return body


async def test_api_and_websocket_over_https_and_wss(tls_server: ServerProcess, cert):
    base = tls_server.base_url
    assert base.startswith("https://127.0.0.1:")
    admin = tls_server.headers()
    connector = aiohttp.TCPConnector(ssl=trusting(cert[0]))
    async with aiohttp.ClientSession(connector=connector) as http:
        await _json(await http.post(base + "/api/v1/auth/register", json={
            "email": "bob@example.com", "username": "bob", "name": "Bob", "password": PASSWORD}), 201)
        tokens = await _json(await http.post(base + "/api/v1/auth/login", json={
            "email": "bob@example.com", "password": PASSWORD}), 200)
        assert isinstance(tokens, dict)
        bob = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = await _json(await http.get(base + "/api/v1/users/me", headers=bob), 200)
        assert isinstance(me, dict)
        resp = await http.post(base + "/api/v1/chats", headers=admin, json={"type": "private", "member_ids": [me["id"]]})
        chat = await resp.json()
        assert resp.status in (200, 201), chat

        ws_url = "wss" + base.removeprefix("https") + "/api/v1/ws"
        async with http.ws_connect(ws_url, headers=bob) as ws:
            ready = await ws.receive_json(timeout=10)
            assert ready["type"] == "ready"
            sent = await _json(await http.post(base + "/api/v1/messages", headers=admin, json={
                "chat_id": chat["id"], "type": "text", "text": "over TLS"}), 201)
            assert isinstance(sent, dict)
            while True:
                event = await ws.receive_json(timeout=10)
                if event["type"] == "message_created":
                    break
            assert event["data"]["id"] == sent["id"] and event["data"]["text"] == "over TLS"

        ticket = await _json(await http.post(base + "/api/v1/media/upload-url", headers=admin, json={
            "file_name": "p.png", "file_type": "image/png", "file_size": len(PNG)}), 200)
        assert isinstance(ticket, dict)
        assert ticket["upload_url"].startswith(base + "/") and ticket["file_url"].startswith(base + "/")
        put = await http.put(ticket["upload_url"], data=PNG, headers=ticket["required_headers"])
        assert put.status == 200, await put.text()
        got = await http.get(ticket["file_url"], headers=admin)
        assert got.status == 200 and await got.read() == PNG
        assert got.headers["Strict-Transport-Security"] == "max-age=31536000"
        signed = await _json(await http.post(base + "/api/v1/media/download-url", headers=admin,
                                             json={"file_url": ticket["file_url"]}), 200)
        assert isinstance(signed, dict)
        url = signed["download_url"]
        assert url.startswith(base + "/"), signed
        got = await http.get(url)
        assert got.status == 200 and await got.read() == PNG


async def test_sighup_reloads_the_certificate_and_open_sockets_stay(tls_server: ServerProcess, cert, tmp_path):
    base = tls_server.base_url
    port = _port(base)
    assert served_certificate("127.0.0.1", port).subject.rfc4514_string() == "CN=first"
    second = self_signed(tmp_path / "second", "second")
    connector = aiohttp.TCPConnector(ssl=trusting(cert[0], second[0]), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.ws_connect("wss" + base.removeprefix("https") + "/api/v1/ws",
                                   headers=tls_server.headers()) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "ready"
            # the same paths, new contents: what an operator (or certbot) does before SIGHUP
            cert[0].write_bytes(second[0].read_bytes())
            cert[1].write_bytes(second[1].read_bytes())
            tls_server.process.send_signal(signal.SIGHUP)
            await asyncio.to_thread(_wait_for, tls_server, "SIGHUP: reloaded TLS certificate")
            assert served_certificate("127.0.0.1", port).subject.rfc4514_string() == "CN=second"
            resp = await http.get(base + "/health/live")
            assert resp.status == 200
            await ws.send_json({"type": "ping"})
            while (event := await ws.receive_json(timeout=10))["type"] != "pong":
                pass
            assert not ws.closed

            # a broken file on SIGHUP: logged, and the server keeps the certificate it has
            cert[1].write_text("not a key\n")
            tls_server.process.send_signal(signal.SIGHUP)
            await asyncio.to_thread(_wait_for, tls_server, "still serving the previous certificate")
            assert served_certificate("127.0.0.1", port).subject.rfc4514_string() == "CN=second"
            await ws.send_json({"type": "ping"})
            while (event := await ws.receive_json(timeout=10))["type"] != "pong":
                pass
            assert event["type"] == "pong"
    assert tls_server.stop() == 0
    assert "Traceback" not in tls_server.log()


def test_plain_port_redirects_to_https_with_308(tls_server: ServerProcess, cert):
    match = PLAIN.search(tls_server.log())
    assert match, tls_server.log()
    plain = match.group(1)
    resp = requests.post(plain + "/api/v1/auth/login?next=%2Fchat", json={}, allow_redirects=False, timeout=10)
    assert resp.status_code == 308
    assert resp.headers["Location"] == tls_server.base_url + "/api/v1/auth/login?next=%2Fchat"
    assert "Strict-Transport-Security" not in resp.headers  # RFC 6797 7.2: never over plain HTTP
    # an unknown ACME token is a 404 in the API's shape, not a redirect
    resp = requests.get(plain + "/.well-known/acme-challenge/nothing", allow_redirects=False, timeout=10)
    assert resp.status_code == 404 and resp.json() == {"detail": "Not Found"}
    # following the redirect lands on the TLS port, with HSTS
    resp = requests.get(plain + "/health/live", verify=str(cert[0]), timeout=10)
    assert resp.status_code == 200 and resp.url == tls_server.base_url + "/health/live"
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_hsts_max_age_is_a_setting_and_0_turns_it_off(start_server, initialised_dir, cert):
    env = {"PUFFERD_TLS_CERT_FILE": str(cert[0]), "PUFFERD_TLS_KEY_FILE": str(cert[1])}
    server = start_server(initialised_dir, env={**env, "PUFFERD_HSTS_MAX_AGE_SECONDS": "600"})
    resp = requests.get(server.base_url + "/health/live", verify=str(cert[0]), timeout=10)
    assert resp.headers["Strict-Transport-Security"] == "max-age=600"
    assert server.stop() == 0
    server = start_server(initialised_dir, env={**env, "PUFFERD_HSTS_MAX_AGE_SECONDS": "0"})
    resp = requests.get(server.base_url + "/health/live", verify=str(cert[0]), timeout=10)
    assert resp.status_code == 200 and "Strict-Transport-Security" not in resp.headers


def test_plain_http_without_tls_settings_has_no_hsts_and_survives_sighup(server: ServerProcess):
    assert server.base_url.startswith("http://")
    resp = requests.get(server.base_url + "/health/live", timeout=10)
    assert resp.status_code == 200 and "Strict-Transport-Security" not in resp.headers
    server.process.send_signal(signal.SIGHUP)  # `systemctl reload` on a plain server
    _wait_for(server, "SIGHUP: no certificate files to reload")
    assert requests.get(server.base_url + "/health/live", timeout=10).status_code == 200


@pytest.mark.parametrize("problem", ["garbage certificate", "key of another certificate", "missing key file",
                                     "expired certificate", "only the certificate"])
def test_bad_certificate_or_key_is_one_error_line_and_changes_nothing(initialised_dir, tmp_path, problem):
    cert_file, key_file = self_signed(tmp_path / "good")
    if problem == "garbage certificate":
        cert_file.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    elif problem == "key of another certificate":
        key_file = self_signed(tmp_path / "other")[1]
    elif problem == "missing key file":
        key_file = tmp_path / "absent.pem"
    elif problem == "expired certificate":
        cert_file, key_file = self_signed(tmp_path / "old", days=-1)
    env = {"PUFFERD_TLS_CERT_FILE": str(cert_file)}
    if problem != "only the certificate":
        env["PUFFERD_TLS_KEY_FILE"] = str(key_file)
    before = snapshot(initialised_dir)
    result = run_pufferd("serve", "--data-dir", initialised_dir, "--port", "0", env=env, timeout=30)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pufferd: error: "), result.stderr
    assert ("tls_cert_file and tls_key_file go together" if problem == "only the certificate"
            else str(cert_file)) in lines[0]
    assert snapshot(initialised_dir) == before


def test_the_certificate_is_the_one_configured(tls_server: ServerProcess, cert):
    served = served_certificate("127.0.0.1", _port(tls_server.base_url))
    assert served == x509.load_pem_x509_certificate(cert[0].read_bytes())
