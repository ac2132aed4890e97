"""Helpers for end-to-end tests: run `pufferd` as a subprocess, start and stop servers.

The program under test is the `pufferd` console script of this Python, or `$PUFFERD_BIN`
(e.g. `PUFFERD_BIN=dist/pufferd` runs the same tests against the single executable).
"""
from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pufferd import tokens
from pufferd.keys import Keys

ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
LISTENING = re.compile(r"listening on (https?://\S+)")
# the API reference's bare environment names (CONTRACT.md) must not leak in from the caller either
_BARE_ENV = ("LOGIN_RATE_LIMIT_PER_MINUTE", "REGISTER_RATE_LIMIT_PER_MINUTE", "REFRESH_RATE_LIMIT_PER_MINUTE",
             "RESET_RATE_LIMIT_PER_MINUTE", "MESSAGE_RATE_LIMIT_PER_MINUTE",
             "DUPLICATE_MESSAGE_COOLDOWN_SECONDS", "MAX_UPLOAD_SIZE_BYTES")


def pufferd_command() -> list[str]:
    """How to run pufferd: $PUFFERD_BIN, else this Python's console script, else `python -m pufferd`."""
    if os.environ.get("PUFFERD_BIN"):
        return shlex.split(os.environ["PUFFERD_BIN"])
    script = Path(sys.executable).parent / "pufferd"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pufferd"]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any pufferd setting, plus EXTRA."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_") and k not in _BARE_ENV}
    env.update(extra or {})
    return env


def run_pufferd(*args: object, env: dict[str, str] | None = None, input: str | None = None,
                cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one pufferd command to completion; no controlling terminal, so prompts read stdin."""
    return subprocess.run([*pufferd_command(), *map(str, args)], env=clean_env(env), input=input,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          start_new_session=True)


def snapshot(directory: Path) -> dict[str, tuple[int, str]]:
    """Every entry under DIRECTORY with its mode and content hash: to prove nothing changed."""
    out: dict[str, tuple[int, str]] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[rel] = (st.st_mode, digest)
    return out


@dataclass
class ServerProcess:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def log(self) -> str:
        """Everything the server wrote to stderr so far (its log)."""
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def token(self, user_id: int = 1, token_type: str = "access", ttl: int = 3600) -> str:
        """A token signed with the server's own key (user 1 is the administrator `pufferd init` made)."""
        key = Keys.load(self.data_dir / "keys").jwt
        token, _ = tokens.issue(key, user_id=user_id, token_type=token_type, now=time.time(), ttl=ttl)
        return token

    def headers(self, user_id: int = 1) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id)}"}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send SIG and wait for the exit code (killed after TIMEOUT: then the test fails loudly)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"pufferd did not stop within {timeout}s of signal {sig}:\n{self.log()}") from None
        return self.process.returncode


def launch(data_dir: Path, *args: str, env: dict[str, str] | None = None, logs: Path,
           timeout: float = START_TIMEOUT) -> ServerProcess:
    """Start `pufferd serve --port 0` on DATA_DIR and wait for its `listening on` line."""
    logs.mkdir(parents=True, exist_ok=True)
    n = len(list(logs.glob("serve-*.err")))
    out_path, err_path = logs / f"serve-{n}.out", logs / f"serve-{n}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen([*pufferd_command(), "serve", "--data-dir", str(data_dir), "--port", "0", *args],
                                   stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=clean_env(env),
                                   start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = LISTENING.search(err_path.read_text(errors="replace"))
        if match:
            return ServerProcess(match.group(1), data_dir, process, out_path, err_path)
        if process.poll() is not None:
            raise RuntimeError(f"pufferd serve exited with {process.returncode} before listening:\n"
                               f"{err_path.read_text(errors='replace')}")
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"pufferd serve did not listen within {timeout}s:\n{err_path.read_text(errors='replace')}")
