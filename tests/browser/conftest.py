"""Browser tests of the web client: Playwright for Python drives Debian's Chromium (headless)
against a real `pufferd serve` subprocess, one server per module (CONTRACT.md; NOTES-deps.md).

Every test here is marked `browser` (select with `-m browser`, leave out with `-m "not browser"`).
Screenshots go to $PUFFERD_ARTIFACTS, else to a session temp directory named in the summary.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_FLAGS, SERVER_ENV
from e2e_support import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_USERNAME, ServerProcess, launch, run_pufferd


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web client in headless Chromium (tests/browser)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


_written: list[Path] = []


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $PUFFERD_ARTIFACTS or a temp directory."""
    target = Path(os.environ["PUFFERD_ARTIFACTS"]) if os.environ.get("PUFFERD_ARTIFACTS") \
        else tmp_path_factory.mktemp("browser-artifacts")
    target.mkdir(parents=True, exist_ok=True)
    _written.append(target)
    return target


def pytest_terminal_summary(terminalreporter) -> None:
    for target in _written:
        shots = sorted(p.name for p in target.glob("*.png"))
        terminalreporter.write_line(f"browser screenshots ({len(shots)}) in {target}")


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[object]:
    """One headless Chromium per module (never downloaded: Debian's package). Not per session:
    Playwright's sync API runs an event loop in this thread while it is open, and the async tests
    of other directories need the thread without one."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real `pufferd serve` on a fresh data directory, for one test module."""
    root = tmp_path_factory.mktemp("browser-server")
    data = root / "data"
    result = run_pufferd("init", "--data-dir", data, "--non-interactive", "--bcrypt-rounds", "4",
                         "--server-name", "pufferd-browser", "--admin-username", ADMIN_USERNAME,
                         "--admin-email", ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD)
    assert result.returncode == 0, result.stderr
    server = launch(data, env=SERVER_ENV, logs=root / "logs")
    yield server
    server.stop()


# A module whose tests are one story: each continues from what the tests before it left (the
# people signed up, their chat, its messages). Selected alone, a later step would wait 30 s for a
# screen that never comes; it is skipped instead, naming the step it needs.
_PASSED = pytest.StashKey[set[str]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call" and report.passed:
        item.session.stash.setdefault(_PASSED, set()).add(item.nodeid)
    return report


@pytest.fixture
def story(request: pytest.FixtureRequest) -> None:
    """Skip this step of a story module unless every earlier step of the module passed in this run."""
    module, node = request.module, request.node
    steps = sorted((f for name, f in vars(module).items() if name.startswith("test_") and callable(f)),
                   key=lambda f: f.__code__.co_firstlineno)
    passed = request.session.stash.get(_PASSED, set())
    path = node.nodeid.split("::")[0]
    for step in steps:
        if step.__name__ == getattr(node, "originalname", node.name):
            return
        if f"{path}::{step.__name__}" not in passed:
            pytest.skip(f"continues the story of {step.__name__} (not passed in this run): run {path} whole")
