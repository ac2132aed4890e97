"""The single executable, built with packaging/build.sh and run for real: the program itself
(init, serve, the files bundled inside) and its launcher (packaging/onefile.sh), which unpacks a
build once per user and then runs it in its own place.

The build takes ~30 s on 2 cores; it happens once per session, in a temporary directory (with
its own PyInstaller cache, so parallel runs in one checkout do not share files).
"""
from __future__ import annotations

import json
import os
import re
import shutil
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
    """A clean environment: no PUFFERD_* or XDG_CACHE_HOME from the caller, HOME and TMPDIR of
    this test (the binary unpacks into TMP/home/.cache/pufferd)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_") and k != "XDG_CACHE_HOME"}
    env["HOME"] = str(tmp / "home")
    env["TMPDIR"] = str(tmp / "tmp")
    (tmp / "home").mkdir(exist_ok=True)
    (tmp / "tmp").mkdir(exist_ok=True)
    return env


def _unpacked(tmp: Path) -> list[Path]:
    """The builds unpacked under TMP's home."""
    return sorted((tmp / "home" / ".cache" / "pufferd" / "builds").iterdir())


def _run(binary: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=120)


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
        # the launcher is no longer there: the unpacked program runs as the process started
        [build] = _unpacked(tmp_path)
        assert Path(os.readlink(f"/proc/{proc.pid}/exe")) == build / "pufferd" / "pufferd"

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
    # the launcher left nothing in TMPDIR: the build is unpacked once, under the user's cache
    assert list((tmp_path / "tmp").iterdir()) == []
    assert [p.name.startswith(f"{pufferd.__version__}-") for p in _unpacked(tmp_path)] == [True]


def test_binary_unpacks_a_build_once_then_runs_it_in_place(binary: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    first = _run(binary, env, "version")
    assert first.returncode == 0, first.stderr
    [build] = _unpacked(tmp_path)
    exe = build / "pufferd" / "pufferd"
    before = exe.stat()
    assert build.stat().st_mode & 0o777 == 0o700  # private to the user
    again = _run(binary, env, "version")
    assert (again.returncode, again.stdout) == (0, first.stdout)
    assert _unpacked(tmp_path) == [build]
    assert (exe.stat().st_ino, exe.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not unpacked again


def test_binary_unpacks_into_xdg_cache_home_or_pufferd_unpack_dir(binary: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    assert _run(binary, env, "version").returncode == 0
    assert len(list((tmp_path / "xdg" / "pufferd" / "builds").iterdir())) == 1
    env["PUFFERD_UNPACK_DIR"] = str(tmp_path / "chosen")
    assert _run(binary, env, "version").returncode == 0
    assert len(list((tmp_path / "chosen").iterdir())) == 1
    assert not (tmp_path / "home" / ".cache").exists()


def test_binary_started_several_times_at_once_unpacks_one_copy(binary: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    procs = [subprocess.Popen([str(binary), "version"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    results = [(p.wait(120), *p.communicate()) for p in procs]
    assert [r[0] for r in results] == [0, 0, 0, 0], results
    assert all(r[1].startswith(f"pufferd {pufferd.__version__} ") for r in results)
    root = tmp_path / "home" / ".cache" / "pufferd" / "builds"
    assert len(list(root.iterdir())) == 1  # one build, no .unpacking.* left behind


def test_binary_unpacks_again_when_its_copy_was_damaged(binary: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _run(binary, env, "version").returncode == 0
    [build] = _unpacked(tmp_path)
    (build / "pufferd" / "pufferd").unlink()
    proc = _run(binary, env, "version")
    assert proc.returncode == 0, proc.stderr
    assert _unpacked(tmp_path) == [build] and (build / "pufferd" / "pufferd").is_file()


def test_binary_removes_other_builds_unless_a_process_runs_from_them(binary: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    root = tmp_path / "home" / ".cache" / "pufferd" / "builds"
    old, running = root / "0.0.1-0123456789abcdef", root / "0.0.2-fedcba9876543210"
    mine = root / "my-notes"  # not a build: left alone
    for build in (old, running, mine):
        (build / "pufferd").mkdir(parents=True)
    sleeper = running / "pufferd" / "sleep"
    shutil.copy2(shutil.which("sleep") or "/bin/sleep", sleeper)
    proc = subprocess.Popen([str(sleeper), "60"])
    try:
        assert _run(binary, env, "version").returncode == 0
        names = sorted(p.name for p in root.iterdir())
        assert old.name not in names and running.name in names and mine.name in names and len(names) == 3
    finally:
        proc.kill()
        proc.wait()


def test_binary_refuses_when_there_is_nowhere_to_unpack(binary: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    del env["HOME"]
    proc = subprocess.run([str(binary), "version"], env=env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == ("pufferd: nowhere to unpack this build: set HOME, XDG_CACHE_HOME or "
                           "PUFFERD_UNPACK_DIR (or install the tarball)\n")
    assert not (tmp_path / "home" / ".cache").exists()

    (tmp_path / "a-file").write_text("")
    env["PUFFERD_UNPACK_DIR"] = str(tmp_path / "a-file" / "below")
    proc = _run(binary, env, "version")
    assert (proc.returncode, proc.stderr) == (1, f"pufferd: cannot create {tmp_path}/a-file/below\n")


def test_binary_refuses_an_unpack_directory_of_another_user(binary: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    if os.geteuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        os.chown(theirs, 65534, 65534)
    else:
        theirs = Path("/")  # root's
    env["PUFFERD_UNPACK_DIR"] = str(theirs)
    proc = _run(binary, env, "version")
    assert proc.returncode == 1
    assert proc.stderr == (f"pufferd: {theirs} belongs to another user: set PUFFERD_UNPACK_DIR to a "
                           "directory of yours\n")
    assert list(theirs.iterdir()) == [] or theirs == Path("/")


def test_binary_runs_with_the_callers_umask_also_when_it_unpacks(binary: Path, tmp_path: Path) -> None:
    """The launcher unpacks with umask 077; the program it starts must not inherit that."""
    env = _env(tmp_path)
    log = tmp_path / "serve.log"
    for start in ("first (unpacks)", "later"):
        with log.open("wb") as sink:
            proc = subprocess.Popen([str(binary), "serve", "--data-dir", str(tmp_path / "data"), "--port", "0"],
                                    env=env, stdout=sink, stderr=subprocess.STDOUT,
                                    preexec_fn=lambda: os.umask(0o022))
        try:
            _wait_listening(log, proc)
            status = Path(f"/proc/{proc.pid}/status").read_text()
            assert "Umask:\t0022\n" in status, (start, status)
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0, log.read_text(errors="replace")
