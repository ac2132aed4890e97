"""Shared fixtures: a real data directory on tmp_path, the real app, users with real tokens."""
from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openapi_statuses
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer

from pufferd import tokens
from pufferd.app import make_app
from pufferd.clock import Clock
from pufferd.config import Settings, load_settings
from pufferd.datadir import Admin, initialise
from pufferd.db import users_q
from pufferd.web import openapi, raises
from pufferd.web.keys import CTX
from pufferd.web.routes import all_routes

ADMIN_PASSWORD = "admin-password-1"


@pytest.fixture(scope="session")
def template_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised, encrypted data directory with a fast bcrypt cost, copied for each test."""
    directory = tmp_path_factory.mktemp("template") / "data"
    initialise(directory, {"bcrypt_rounds": 4, "server_name": "pufferd-test"},
               Admin("admin", "admin@example.com", ADMIN_PASSWORD))
    return directory


@pytest.fixture
def data_dir(template_data_dir: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    shutil.copytree(template_data_dir, directory)
    return directory


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings for the app under test."""
    return {}


@pytest.fixture
def settings(data_dir: Path, settings_overrides: dict[str, object]) -> Settings:
    return load_settings(data_dir, **settings_overrides)


@pytest.fixture
def clock() -> Clock | None:
    """The application's clock: the real one, unless a module overrides this with a FakeClock."""
    return None


@pytest.fixture
def app(settings: Settings, clock: Clock | None):
    return make_app(settings, clock=clock)


@pytest.fixture
async def client(aiohttp_client, app):
    return await aiohttp_client(app)


@pytest.fixture
def aiohttp_client(aiohttp_client):
    """pytest-aiohttp's aiohttp_client; every app it serves records the statuses it answers
    (tests/openapi_statuses.py), whichever way the test built it."""
    async def serve(target, *args, **kwargs):
        app = target.app if isinstance(target, BaseTestServer) else target
        if isinstance(app, web.Application) and not app.on_response_prepare.frozen:
            app.on_response_prepare.append(openapi_statuses.record)
        return await aiohttp_client(target, *args, **kwargs)

    return serve


_UNDOCUMENTED = pytest.StashKey[list[str]]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """With pytest-xdist, each worker hands what it saw to the controller, which checks it all."""
    openapi_statuses.SEEN.update(tuple(seen) for seen in node.workeroutput.get("openapi_seen", []))


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook sends its output to the controller
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a status the tests saw is missing from /openapi.json."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller checks
        workeroutput["openapi_seen"] = sorted(openapi_statuses.SEEN)
        return
    if not openapi_statuses.SEEN:
        return
    doc = openapi.build(all_routes(), title="pufferd-test")
    missing = openapi_statuses.undocumented(doc, openapi_statuses.SEEN)
    session.config.stash[_UNDOCUMENTED] = missing
    if missing and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    missing = config.stash.get(_UNDOCUMENTED, [])
    if missing:
        terminalreporter.section("statuses answered but missing from /openapi.json", red=True, bold=True)
        for line in missing:
            terminalreporter.line(line)
        for line in raises.unresolved():
            terminalreporter.line(f"(the analysis could not tell: {line})")
        terminalreporter.line(f"{len(missing)} undocumented: the run fails (see pufferd/web/raises.py)", red=True)


@dataclass
class TestUser:
    id: int
    username: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


_counter = itertools.count(1)


@pytest.fixture
def make_user(app) -> Callable[..., Awaitable[TestUser]]:
    """Create a user straight in the database and sign an access token for them."""
    ctx = app[CTX]

    async def make(username: str | None = None, **extra: object) -> TestUser:
        n = next(_counter)
        username = username or f"user{n}"
        email = str(extra.pop("email", f"{username}@example.com"))
        password = "password-123"
        pw_hash = await ctx.hasher.hash(password)
        user = await ctx.db.write(lambda c: users_q.insert(
            c, email=email, username=username, name=str(extra.pop("name", username.title())),
            password_hash=pw_hash, now=time.time()))
        token, _ = tokens.issue(ctx.keys.jwt, user_id=user.id, token_type="access", now=time.time(),
                                ttl=ctx.settings.access_token_ttl_seconds)
        return TestUser(user.id, username, email, password, token)

    return make


@pytest.fixture
async def alice(client, make_user) -> TestUser:
    return await make_user("alice")


@pytest.fixture
async def bob(client, make_user) -> TestUser:
    return await make_user("bob")


@pytest.fixture
async def carol(client, make_user) -> TestUser:
    return await make_user("carol")
