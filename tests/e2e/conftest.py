"""Fixtures for end-to-end tests with real `pufferd` subprocesses (DESIGN.md, "Testing").

- `server`: a running `pufferd serve --port 0` on a fresh copy of an initialised data directory;
  `server.base_url`, `server.data_dir`, `server.headers()` (an admin bearer token), `server.log()`.
  Override `server_env` in a test module to give it environment variables.
- `start_server(data_dir, *args, env=...)`: start another one (e.g. on a restored backup).
- `initialised_dir`: a fresh copy of a data directory made by a real `pufferd init`.
Every server is stopped with SIGTERM at teardown. Helpers live in e2e_support.py.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_support import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_USERNAME, ServerProcess, launch, run_pufferd


@pytest.fixture(scope="session")
def template_init_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory made once per session by a real `pufferd init --non-interactive`."""
    directory = tmp_path_factory.mktemp("e2e-template") / "data"
    result = run_pufferd("init", "--data-dir", directory, "--non-interactive", "--bcrypt-rounds", "4",
                         "--server-name", "pufferd-e2e", "--admin-username", ADMIN_USERNAME,
                         "--admin-email", ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD)
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture
def initialised_dir(template_init_dir: Path, tmp_path: Path) -> Path:
    """A fresh copy of the initialised template, owned by this test."""
    directory = tmp_path / "data"
    shutil.copytree(template_init_dir, directory)
    return directory


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start `pufferd serve` subprocesses; all are stopped with SIGTERM at teardown."""
    started: list[ServerProcess] = []

    def start(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
        server = launch(data_dir, *args, env=env, logs=tmp_path / "logs")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server_env() -> dict[str, str]:
    """Override in a test module to give the `server` fixture extra environment variables."""
    return {}


@pytest.fixture
def server(initialised_dir: Path, start_server: Callable[..., ServerProcess],
           server_env: dict[str, str]) -> ServerProcess:
    """A running `pufferd serve` on its own data directory and a free port."""
    return start_server(initialised_dir, env=server_env)
