"""Browser tests of the web client: Playwright for Python drives Debian's Chromium (headless)
against a real `pufferd serve` subprocess, one server per module (CONTRACT.md; NOTES-deps.md).

Every test here is marked `browser` (select with `-m browser`, leave out with `-m "not browser"`).
Screenshots go to $PUFFERD_ARTIFACTS, else to a session temp directory printed at the end.
"""
from __future__ import annotations

import email
import email.policy
import json
import os
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from e2e_support import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_USERNAME, ServerProcess, launch, run_pufferd

CHROMIUM = os.environ.get("PUFFERD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
# no limits: the tests sign up and send faster than people do
SERVER_ENV = {"LOGIN_RATE_LIMIT_PER_MINUTE": "0", "REGISTER_RATE_LIMIT_PER_MINUTE": "0",
              "REFRESH_RATE_LIMIT_PER_MINUTE": "0", "RESET_RATE_LIMIT_PER_MINUTE": "0",
              "MESSAGE_RATE_LIMIT_PER_MINUTE": "0", "DUPLICATE_MESSAGE_COOLDOWN_SECONDS": "0"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web client in headless Chromium (tests/browser)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $PUFFERD_ARTIFACTS or a temp directory."""
    target = Path(os.environ["PUFFERD_ARTIFACTS"]) if os.environ.get("PUFFERD_ARTIFACTS") \
        else tmp_path_factory.mktemp("browser-artifacts")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="session")
def playwright_browser() -> Iterator[object]:
    """One headless Chromium for the session (never downloaded: Debian's package)."""
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


def mailed_link(server: ServerProcess, to: str, path: str, timeout: float = 10) -> str:
    """The newest link to PATH in a mail to TO in the outbox, as a URL of SERVER."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for eml in sorted((server.data_dir / "mail" / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime,
                          reverse=True):
            msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
            if to.lower() not in str(msg["To"]).lower():
                continue
            text = "".join(part.get_content() for part in msg.walk() if part.get_content_type() == "text/plain")
            match = re.search(rf"https?://\S+({re.escape(path)}\?token=[\w\-.~%]+)", text)
            if match:
                return server.base_url + match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} with a {path} link")


def api(server: ServerProcess, method: str, path: str, body: object = None, user_id: int = 1) -> object:
    """Call the API as USER_ID with a token signed by the server's key (for test set-up only)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.base_url + path, data=data, method=method,
                                 headers={**server.headers(user_id), "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def axe_violations(page, serious_only: bool = True) -> list[dict]:
    """Run axe-core in PAGE (evaluated over the DevTools protocol, so the page's CSP allows it)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if not serious_only or v["impact"] in ("serious", "critical")]
