"""Issue 17, "Lean start": a serving process imports what its first requests need, not the whole
program. A real `pufferd serve` (pufferd.cli.main in a Python that can report its sys.modules)
answers /health/live without cryptography, PyJWT, federation or the handler modules of the API;
the first request to an area imports that area and is answered as before."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import ADMIN_EMAIL, ADMIN_PASSWORD, LISTENING, START_TIMEOUT, clean_env
from tls_support import self_signed

# pufferd serve, plus a thread that writes sys.modules to NAME.json whenever NAME.want appears
# in the directory given first (a test cannot look into another process otherwise)
SERVE = """
import json, os, sys, threading, time
from pathlib import Path
snaps = Path(sys.argv.pop(1))
def report():
    tls = {}
    if "aiohttp.connector" in sys.modules:
        from aiohttp import connector
        tls = {name: getattr(connector, name).cert_store_stats()["x509_ca"]
               for name in ("_SSL_CONTEXT_VERIFIED", "_SSL_CONTEXT_UNVERIFIED")}
    frozenlist = sys.modules.get("frozenlist")
    return {"modules": sorted(sys.modules), "client_contexts_ca": tls,
            "env": {k: os.environ.get(k) for k in ("SSL_CERT_FILE", "FROZENLIST_NO_EXTENSIONS")},
            "frozenlist": frozenlist.FrozenList.__module__ if frozenlist else None,
            "libstdc++": "libstdc++" in Path("/proc/self/maps").read_text()}
def watch():
    while True:
        for want in snaps.glob("*.want"):
            tmp = want.with_suffix(".tmp")
            tmp.write_text(json.dumps(report()))
            tmp.rename(want.with_suffix(".json"))
            want.unlink()
        time.sleep(0.02)
threading.Thread(target=watch, daemon=True).start()
from pufferd.cli import main
sys.argv[0] = "pufferd"
main()
"""
# imported by a request that needs them, never by start-up or /health/live
HEAVY = ("cryptography", "jwt", "pyotp", "regex", "prometheus_client", "pufferd.federation.outgoing", "pufferd.federation.actors",
         "pufferd.federation.delivery", "pufferd.federation.signatures", "pufferd.federation.http",
         "pufferd.web.handlers.auth", "pufferd.web.handlers.chats", "pufferd.web.handlers.messages",
         "pufferd.web.handlers.media", "pufferd.web.schemas.auth", "pufferd.web.schemas.messages",
         "pufferd.web.raises", "pufferd.admin_cli", "pufferd.doctor", "pufferd.accounts", "pufferd.invites",
         "pufferd.twofa")


def request(url: str, body: dict | None = None, token: str | None = None, method: str | None = None,
            ) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers=headers, method=method or ("POST" if body is not None else "GET"))
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


def report(snaps: Path, name: str) -> dict:
    (snaps / f"{name}.want").touch()
    deadline = time.monotonic() + 10
    while not (snaps / f"{name}.json").exists():
        assert time.monotonic() < deadline, "the server did not report its modules"
        time.sleep(0.02)
    return json.loads((snaps / f"{name}.json").read_text())


def modules(snaps: Path, name: str) -> set[str]:
    return set(report(snaps, name)["modules"])


def loaded(mods: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in mods)


@contextlib.contextmanager
def serving(data_dir: Path, tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """(base URL, snapshot directory) of a `pufferd serve` that reports what it holds; ENV is its
    whole environment (clean_env() when not given)."""
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    err_path = tmp_path / "serve.err"
    with err_path.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", SERVE, str(snaps), "serve", "--data-dir", str(data_dir),
                                 "--port", "0"], stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                env=clean_env() if env is None else env, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (match := LISTENING.search(err_path.read_text(errors="replace"))):
            assert proc.poll() is None and time.monotonic() < deadline, err_path.read_text(errors="replace")
            time.sleep(0.05)
        yield match.group(1), snaps
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, err_path.read_text(errors="replace")


def test_serve_answers_health_without_the_heavy_modules_then_loads_an_area_on_first_use(
        initialised_dir: Path, tmp_path: Path) -> None:
    with serving(initialised_dir, tmp_path) as (base, snaps):
        assert request(f"{base}/health/live") == (200, {"status": "ok"})
        idle = modules(snaps, "idle")
        assert "pufferd.web.handlers.health" in idle and "pufferd.app" in idle
        assert [m for m in HEAVY if loaded(idle, m)] == []

        status, tokens = request(f"{base}/api/v1/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert status == 200, tokens
        status, me = request(f"{base}/api/v1/users/me", token=tokens["access_token"])
        assert (status, me["email"]) == (200, ADMIN_EMAIL)
        status, me = request(f"{base}/api/v1/users/profile", {"bio": "lean"}, tokens["access_token"], "PUT")
        assert (status, me["bio"]) == (200, "lean")
        used = modules(snaps, "used")
        assert {"pufferd.web.handlers.auth", "pufferd.web.handlers.users", "jwt"} <= used
        assert not loaded(used, "pufferd.web.handlers.messages")  # no request reached it

        # a message, with federation off: the outgoing side of federation stays out
        status, chat = request(f"{base}/api/v1/chats", {"type": "group", "title": "lean", "member_ids": []},
                               tokens["access_token"])
        assert status in (200, 201), chat
        status, sent = request(f"{base}/api/v1/messages", {"chat_id": chat["id"], "text": "hi"}, tokens["access_token"])
        assert status in (200, 201), sent
        sent_modules = modules(snaps, "sent")
        assert "pufferd.web.handlers.messages" in sent_modules
        assert not loaded(sent_modules, "pufferd.federation.outgoing")


@pytest.mark.parametrize("users_ca_file", [False, True], ids=["no SSL_CERT_FILE", "SSL_CERT_FILE set"])
def test_serve_keeps_aiohttp_client_contexts_without_ca_file_and_frozenlist_pure_python(
        initialised_dir: Path, tmp_path: Path, users_ca_file: bool) -> None:
    """aiohttp's two import-time client contexts hold no CA certificate (pufferd never uses them:
    federation has its own, tests/web/test_federation_fetch_safety.py), frozenlist is its
    pure-Python class and libstdc++ is not loaded; the environment the user gave is put back."""
    env = clean_env()
    env.pop("SSL_CERT_FILE", None)
    env.pop("FROZENLIST_NO_EXTENSIONS", None)
    if users_ca_file:
        env["SSL_CERT_FILE"] = str(self_signed(tmp_path / "ca")[0])
    with serving(initialised_dir, tmp_path, env) as (base, snaps):
        assert request(f"{base}/health/live") == (200, {"status": "ok"})
        held = report(snaps, "idle")
    assert held["client_contexts_ca"] == {"_SSL_CONTEXT_VERIFIED": 0, "_SSL_CONTEXT_UNVERIFIED": 0}
    assert held["env"] == {"SSL_CERT_FILE": env.get("SSL_CERT_FILE"), "FROZENLIST_NO_EXTENSIONS": None}
    assert held["frozenlist"] == "frozenlist"
    assert held["libstdc++"] is False
