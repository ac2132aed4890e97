"""What the benchmark scripts share: start a real `pufferd serve`, and percentiles.

The scripts run as `python3 bench/<name>.py`, so this directory is on sys.path and they import
this module as `benchlib`.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

LISTENING = re.compile(r"listening on (http://\S+)")


def serve(directory: Path, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start `pufferd serve --port 0` on DIRECTORY (output to LOG); return it and its base URL."""
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "pufferd", "serve", "--data-dir", str(directory),
                                 "--port", "0"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = LISTENING.search(log.read_text(errors="replace"))
        if m:
            return proc, m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"server did not start:\n{log.read_text(errors='replace')}")


def pct(values: list[float], p: float) -> float:
    """The P-th percentile of VALUES (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def init(directory: Path, env: dict[str, str], *, email: str, password: str, bcrypt_rounds: int) -> None:
    """`pufferd init --non-interactive` of DIRECTORY with an administrator EMAIL / PASSWORD."""
    subprocess.run([sys.executable, "-m", "pufferd", "init", "--non-interactive", "--data-dir", str(directory),
                    "--admin-username", "admin", "--admin-email", email, "--admin-password", password,
                    "--bcrypt-rounds", str(bcrypt_rounds)], env=env, check=True, capture_output=True)


def connect(directory: Path):
    """An apsw connection to DIRECTORY's database, opened with its key (for seeding)."""
    from pufferd.config import load_settings
    from pufferd.datadir import database_key
    from pufferd.db.database import open_connection

    settings = load_settings(directory)
    key, _ = database_key(settings)
    return open_connection(settings.db_path, key)
