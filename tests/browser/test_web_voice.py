"""Voice in the web client: three Chromium pages with fake microphones join one group's voice
room over loopback, every pair connects and hears audio, mute is seen, a closed page leaves; a
private call rings, is declined, then accepted. Chromium's own fake devices stand in for people."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_FLAGS, DESKTOP, api
from e2e_support import ServerProcess
from playwright.sync_api import Page, expect

PASSWORD = "voice-pass-123"
MEDIA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
               "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def media_browser() -> Iterator[object]:
    """A Chromium with fake camera and microphone, granted without a prompt (one per module, as
    tests/browser/conftest.py explains)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + MEDIA_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def people(web_server: ServerProcess) -> dict[str, int]:
    """Three accounts on the module's fresh server (the administrator is user 1)."""
    ids = {}
    for n, name in enumerate(("vera", "walt", "xena"), start=2):
        api(web_server, "POST", "/api/v1/auth/register",
            {"email": f"{name}@example.com", "name": name.title(), "username": name, "password": PASSWORD})
        ids[name] = n
    return ids


def signed_in(browser, server: ServerProcess, name: str, errors: list[str]) -> Page:
    context = browser.new_context(viewport=DESKTOP, base_url=server.base_url)
    context.grant_permissions(["microphone", "camera"])
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(f"{name}@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def open_chat(page: Page, title: str) -> None:
    page.get_by_role("link", name=re.compile(title)).first.click()
    expect(page.get_by_role("heading", name=title, level=2)).to_be_visible()


def states(page: Page) -> dict[str, str]:
    return page.evaluate("() => Object.fromEntries([...window.pufferdVoice.peers].map(([u, p]) => [u, p.pc.connectionState]))")


def inbound_audio_bytes(page: Page) -> dict[str, int]:
    return page.evaluate("""async () => {
      const out = {};
      for (const [u, p] of window.pufferdVoice.peers) {
        let n = 0;
        (await p.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.bytesReceived; });
        out[u] = n;
      }
      return out;
    }""")


def wait_connected(page: Page, n: int) -> None:
    page.wait_for_function(
        """n => { const ps = [...window.pufferdVoice.peers.values()];
                  return ps.length === n && ps.every(p => p.pc.connectionState === 'connected'); }""",
        arg=n, timeout=20_000)


def tiles(page: Page):
    return page.locator(".voice-grid .voice-tile")


def test_three_pages_join_one_room_hear_each_other_see_mute_and_a_closed_page_leaves(
        media_browser, web_server, people):
    group = api(web_server, "POST", "/api/v1/chats",
                {"type": "group", "title": "Choir", "member_ids": [people["walt"], people["xena"]]},
                user_id=people["vera"])
    assert isinstance(group, dict)
    errors: list[str] = []
    pages = {name: signed_in(media_browser, web_server, name, errors) for name in ("vera", "walt", "xena")}
    try:
        for page in pages.values():
            open_chat(page, "Choir")
            page.get_by_role("button", name="Join voice").click()
            expect(tiles(page).filter(has_text="You")).to_have_count(1)
        for page in pages.values():
            wait_connected(page, 2)
            expect(tiles(page)).to_have_count(3)
        first = {name: inbound_audio_bytes(page) for name, page in pages.items()}
        pages["vera"].wait_for_timeout(1500)
        later = {name: inbound_audio_bytes(page) for name, page in pages.items()}
        for name in pages:  # every side receives audio from each of the two others, and it grows
            assert len(later[name]) == 2, later
            for peer, n in later[name].items():
                assert n > first[name][peer], (name, peer, first, later)
        # mute is seen by the others
        pages["vera"].get_by_role("button", name="Mute").click()
        for name in ("walt", "xena"):
            expect(pages[name].locator(f'.voice-tile[data-user-id="{people["vera"]}"] .muted-flag')).to_be_visible()
        # a closed page is removed from the room for the rest
        pages["xena"].context.close()
        del pages["xena"]
        for page in pages.values():
            expect(tiles(page)).to_have_count(2, timeout=10_000)
            wait_connected(page, 1)
        assert errors == []
    finally:
        for page in pages.values():
            page.context.close()


def test_a_private_call_rings_is_declined_then_accepted(media_browser, web_server, people):
    api(web_server, "POST", "/api/v1/chats", {"type": "private", "member_ids": [people["walt"]]},
        user_id=people["vera"])
    errors: list[str] = []
    vera = signed_in(media_browser, web_server, "vera", errors)
    walt = signed_in(media_browser, web_server, "walt", errors)
    try:
        open_chat(vera, "Walt")
        vera.get_by_role("button", name="Call").click()
        ring = walt.get_by_role("alertdialog", name="Vera is calling")
        expect(ring).to_be_visible()
        expect(vera.get_by_role("heading", name=re.compile("Calling Walt"))).to_be_visible()
        ring.get_by_role("button", name="Decline").click()
        expect(ring).to_be_hidden()
        expect(vera.get_by_role("heading", name=re.compile("Calling Walt"))).to_be_hidden()
        vera.get_by_role("button", name="Call").click()
        ring.get_by_role("button", name="Accept").click()
        wait_connected(vera, 1)
        wait_connected(walt, 1)
        expect(tiles(walt)).to_have_count(2)
        walt.get_by_role("button", name="Hang up").click()
        expect(tiles(vera)).to_have_count(0, timeout=10_000)
        assert errors == []
    finally:
        vera.context.close()
        walt.context.close()
