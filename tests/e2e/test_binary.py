"""Smoke test of the single executable: build it with packaging/build.sh, then run it for real.

The build takes ~40 s on 2 cores; it happens once per session, in a temporary directory (with
its own PyInstaller cache, so parallel runs in one checkout do not share files).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import pufferd

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "packaging" / "build.sh"
LISTENING = re.compile(r"listening on http://([^\s:]+|\[[^\]]+\]):(\d+)")


def _env(tmp: Path) -> dict[str, str]:
    """A clean environment: no PUFFERD_* from the caller, and a private TMPDIR for the unpacking."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_")}
    env["TMPDIR"] = str(tmp)
    return env


@pytest.fixture(scope="session")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one-file executable, built from this checkout."""
    out = tmp_path_factory.mktemp("binary")
    env = dict(os.environ, PYINSTALLER_CONFIG_DIR=str(out / "cache"), PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(BUILD), "--onefile-only", "--dist", str(out / "dist"),
                           "--work", str(out / "work")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    exe = out / "dist" / "pufferd"
    assert exe.is_file() and os.access(exe, os.X_OK)
    return exe


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_listening(log: Path, proc: subprocess.Popen, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = LISTENING.search(log.read_text(errors="replace"))
        if m:
            return int(m.group(2))
        if proc.poll() is not None:
            pytest.fail(f"serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"serve did not log 'listening on' within {timeout} s:\n{log.read_text(errors='replace')}")


def test_binary_prints_its_version(binary: Path, tmp_path: Path) -> None:
    proc = subprocess.run([str(binary), "version"], env=_env(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"pufferd {pufferd.__version__} "), proc.stdout


def test_binary_refuses_an_unknown_flag(binary: Path, tmp_path: Path) -> None:
    proc = subprocess.run([str(binary), "serve", "--no-such-flag"], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "--no-such-flag" in proc.stderr and "Traceback" not in proc.stderr


def test_binary_inits_serves_ready_and_stops_on_sigterm(binary: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    data = tmp_path / "data"
    init = subprocess.run(
        [str(binary), "init", "--non-interactive", "--data-dir", str(data),
         "--admin-username", "admin", "--admin-email", "admin@example.com",
         "--admin-password", "a-long-admin-password", "--bcrypt-rounds", "4"],
        env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    assert (data / "pufferd.toml").is_file() and (data / "pufferd.db").is_file()

    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(binary), "serve", "--data-dir", str(data), "--port", "0"],
                                env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        port = _wait_listening(log, proc)
        base = f"http://127.0.0.1:{port}"

        status, body = _get(base + "/health/ready")
        assert status == 200, body
        assert json.loads(body) == {"status": "ready", "db": "ok", "blobs": "ok", "disk": "ok"}

        # the data files inside the bundle: migrations (above: the db check reads them back),
        # the OpenAPI document and the Swagger UI assets of /docs
        status, body = _get(base + "/openapi.json")
        assert status == 200 and json.loads(body)["openapi"].startswith("3.1")
        status, body = _get(base + "/docs/assets/swagger-ui-bundle.js")
        assert status == 200 and len(body) > 100_000
        # and the web client's static tree: the shell, and a module it names
        status, body = _get(base + "/")
        assert status == 200 and b'<div id="app">' in body
        main_js = re.search(rb'src="(/assets/[0-9a-f]+/app/main\.js)"', body)
        assert main_js, body
        status, body = _get(base + main_js.group(1).decode())
        assert status == 200 and b"import" in body

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text(errors="replace")
    assert "stopped" in output
    # the access log's batched lines are written out at shutdown at the latest
    assert re.search(r'INFO aiohttp\.access: 127\.0\.0\.1 "GET /health/ready HTTP/1\.1" 200 ', output), output
    # the one-file bootloader removed its unpacked copy on the way out
    assert not list(tmp_path.glob("_MEI*"))
