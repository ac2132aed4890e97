"""ACME end to end: a real `pufferd serve` gets its certificate from pebble (Let's Encrypt's test
CA, Debian package `pebble`) over loopback with the HTTP-01 challenge, serves it, keeps it under
DATA_DIR/acme/ and serves it again after a restart without asking the CA."""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from e2e_support import ServerProcess
from tls_support import self_signed

pytestmark = pytest.mark.skipif(
    shutil.which("pebble") is None or shutil.which("pebble-challtestsrv") is None,
    reason="pebble (Let's Encrypt's test CA) is not installed: apt-get install -y pebble")

DOMAIN = "chat.pufferd.test"


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Pebble:
    directory_url: str
    management_url: str
    tls_cert: Path  # pebble's own HTTPS certificate (what acme_ca_bundle must trust)

    def root(self) -> str:
        """The root of the certificates pebble issues (new on every pebble start)."""
        resp = requests.get(self.management_url + "/roots/0", verify=str(self.tls_cert), timeout=10)
        resp.raise_for_status()
        return resp.text


@pytest.fixture
def http_port() -> int:
    return _free_port()


@pytest.fixture
def pebble(tmp_path: Path, http_port: int) -> Iterator[Pebble]:
    """pebble on loopback, validating HTTP-01 on HTTP_PORT; its DNS (pebble-challtestsrv) answers
    127.0.0.1 for every name."""
    cert, key = self_signed(tmp_path / "pebble-tls", "pebble")
    dns_port, api_port, mgmt_port = _free_port(socket.SOCK_DGRAM), _free_port(), _free_port()
    config = tmp_path / "pebble.json"
    config.write_text(f"""{{"pebble": {{
        "listenAddress": "127.0.0.1:{api_port}", "managementListenAddress": "127.0.0.1:{mgmt_port}",
        "certificate": "{cert}", "privateKey": "{key}", "httpPort": {http_port}, "tlsPort": {_free_port()},
        "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}""")
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    logs = (tmp_path / "pebble.log").open("wb")
    procs = [
        subprocess.Popen(["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                          "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                          "-management", f"127.0.0.1:{_free_port()}"], stdout=logs, stderr=logs, env=env),
        subprocess.Popen(["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}"],
                         stdout=logs, stderr=logs, env=env),
    ]
    ca = Pebble(f"https://127.0.0.1:{api_port}/dir", f"https://127.0.0.1:{mgmt_port}", cert)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(ca.directory_url, verify=str(cert), timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "pebble.log").read_text()
            assert all(p.poll() is None for p in procs), (tmp_path / "pebble.log").read_text()
            time.sleep(0.1)
        yield ca
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        logs.close()


def _wait_for(server: ServerProcess, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{server.log()}"
        assert server.process.poll() is None, server.log()
        time.sleep(0.1)


def _get_over_tls(port: int, root_pem: str, path: str) -> tuple[str, dict[str, str]]:
    """GET PATH from 127.0.0.1:PORT as https://DOMAIN, trusting only ROOT_PEM (chain and name checked)."""
    ctx = ssl.create_default_context(cadata=root_pem)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=DOMAIN) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {DOMAIN}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    status, *lines = head.split("\r\n")
    return status, {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}


def test_certificate_from_pebble_with_http_01_is_served_kept_and_reused(start_server, initialised_dir: Path,
                                                                          pebble: Pebble, http_port: int):
    tls_port = _free_port()
    env = {"PUFFERD_ACME_ENABLED": "1", "PUFFERD_ACME_DIRECTORY_URL": pebble.directory_url,
           "PUFFERD_ACME_CA_BUNDLE": str(pebble.tls_cert), "PUFFERD_ACME_EMAIL": "admin@pufferd.test",
           "PUFFERD_PUBLIC_URL": f"https://{DOMAIN}:{tls_port}", "PUFFERD_HTTP_PORT": str(http_port)}
    server = start_server(initialised_dir, "--port", str(tls_port), env=env)
    assert server.base_url == f"https://127.0.0.1:{tls_port}"
    _wait_for(server, f"ACME: certificate for {DOMAIN} installed", timeout=90)
    status, headers = _get_over_tls(tls_port, pebble.root(), "/health/live")
    assert status == "HTTP/1.1 200 OK" and headers["strict-transport-security"] == "max-age=31536000"

    acme_dir = initialised_dir / "acme"
    assert stat.S_IMODE(acme_dir.stat().st_mode) == 0o700
    for name in ("account.key", f"{DOMAIN}.key"):
        assert stat.S_IMODE((acme_dir / name).stat().st_mode) == 0o600, name
    assert (acme_dir / f"{DOMAIN}.crt").read_text().count("BEGIN CERTIFICATE") >= 2  # leaf + intermediate
    # the plain port still redirects everything but the challenges
    resp = requests.get(f"http://127.0.0.1:{http_port}/chat?x=1", allow_redirects=False, timeout=10)
    assert resp.status_code == 308 and resp.headers["Location"] == f"https://{DOMAIN}:{tls_port}/chat?x=1"
    assert server.stop() == 0
    assert "Traceback" not in server.log()

    # a restart serves the saved certificate at once and does not ask the CA again
    again = start_server(initialised_dir, "--port", str(tls_port), env=env)
    status, _ = _get_over_tls(tls_port, pebble.root(), "/health/live")
    assert status == "HTTP/1.1 200 OK"
    assert "ACME: requesting" not in again.log()
