"""The web client across server restarts: its socket resumes with `since=` from before the
restart, the server answers `resync_required`, and the client reloads over HTTP without losing
or repeating a message (CONTRACT.md, "Realtime"); a reload while the server is down opens the
shell from the service worker and waits for the server."""
from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from browser_support import DESKTOP, SERVER_ENV, api
from e2e_support import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_USERNAME, ServerProcess, launch, run_pufferd
from playwright.sync_api import expect

PASSWORD = "correct-horse-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A server on a fixed port (a restart keeps the URL the page talks to)."""
    root = tmp_path_factory.mktemp("browser-resync")
    data = root / "data"
    result = run_pufferd("init", "--data-dir", data, "--non-interactive", "--bcrypt-rounds", "4",
                         "--admin-username", ADMIN_USERNAME, "--admin-email", ADMIN_EMAIL,
                         "--admin-password", ADMIN_PASSWORD)
    assert result.returncode == 0, result.stderr
    port = str(_free_port())
    state = {"start": lambda: launch(data, "--port", port, env=SERVER_ENV, logs=root / "logs")}
    state["server"] = state["start"]()
    yield state
    state["server"].stop()


def test_a_restart_resyncs_without_losing_or_repeating(restartable, playwright_browser):
    server: ServerProcess = restartable["server"]
    for name in ("alice", "bob"):
        api(server, "POST", "/api/v1/auth/register",
            {"email": f"{name}@example.com", "name": name.title(), "username": name, "password": PASSWORD})
    chat = api(server, "POST", "/api/v1/chats", {"type": "private", "member_ids": [3]}, user_id=2)
    context = playwright_browser.new_context(viewport=DESKTOP, base_url=server.base_url)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        frames: list[str] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
        urls: list[str] = []
        page.on("websocket", lambda ws: urls.append(ws.url))
        page.goto("/login")
        page.get_by_label("E-mail", exact=True).fill("bob@example.com")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name=re.compile("Alice")).click()

        def said(text: str):
            return page.locator("article.msg", has=page.locator(".text", has_text=text))

        api(server, "POST", "/api/v1/messages", {"chat_id": chat["id"], "text": "before the restart"}, user_id=2)
        expect(said("before the restart")).to_have_count(1)
        server.stop()
        expect(page.get_by_role("status").filter(has_text=re.compile("Offline|Connecting"))).to_be_visible()
        server = restartable["server"] = restartable["start"]()
        api(server, "POST", "/api/v1/messages", {"chat_id": chat["id"], "text": "while reconnecting"}, user_id=2)
        expect(said("while reconnecting")).to_have_count(1, timeout=20_000)
        api(server, "POST", "/api/v1/messages", {"chat_id": chat["id"], "text": "live again"}, user_id=2)
        expect(said("live again")).to_have_count(1)
        expect(said("before the restart")).to_have_count(1)
        expect(said("while reconnecting")).to_have_count(1)
        # the second socket asked to resume and was told to reload
        assert "since=" not in urls[0] and any("since=" in u for u in urls[1:]), urls
        assert any('"resync_required"' in f for f in frames), frames[-5:]
        assert errors == []
        # the service worker keeps the shell: a reload while the server is down still opens the
        # app, which says so, keeps the session and goes on once the server is back
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        context.new_cdp_session(page).send("Network.clearBrowserCache")  # the worker's cache only
        server.stop()
        page.reload()
        expect(page.get_by_role("heading", name="Cannot reach the server")).to_be_visible()
        server = restartable["server"] = restartable["start"]()
        page.get_by_role("button", name="Try now").click()
        expect(page.get_by_role("heading", name="Alice", level=2)).to_be_visible()
        expect(said("live again")).to_have_count(1)
    finally:
        context.close()
