"""Web client performance budget, measured in headless Chromium against a real `pufferd serve`.

    python3 bench/bench_web.py                    # 5 rounds each
    python3 bench/bench_web.py --rounds 3 --messages 10000 --live 1000

Needs Playwright for Python (the test extra) and Debian's Chromium at /usr/bin/chromium.

1. Shell weight: every byte on the wire (headers included, as Chromium's encodedDataLength counts
   them) of a first load of `/` by a signed-out browser with an empty cache, split into the static
   shell and the API calls.
2. Cold load: a new browser context (empty cache, no service worker) holding only a refresh token
   opens `/`; the time from navigation start to the first chat row of the list on screen.
3. Open a chat of N messages (default 10,000): from the pointer going down on its row to its
   newest message in the DOM; then 20 scroll-backs to the top of the window, with the longest frame gap seen and the
   most message elements ever in the DOM (the window).
4. JS heap after LIVE messages (default 1,000) arrive over the socket in the open chat, measured
   after a forced garbage collection (Runtime.getHeapUsage).
Every time is the median (and max) of the rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import init, serve

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
PASSWORD = "bench-password-1"
ENV = {"LOGIN_RATE_LIMIT_PER_MINUTE": "0", "REGISTER_RATE_LIMIT_PER_MINUTE": "0",
       "REFRESH_RATE_LIMIT_PER_MINUTE": "0", "MESSAGE_RATE_LIMIT_PER_MINUTE": "0",
       "DUPLICATE_MESSAGE_COOLDOWN_SECONDS": "0"}
# set by an init script before the app runs: when the first chat row and a given message appear
WATCH = """
window.__t = {};
addEventListener('pointerdown', () => { window.__t.down = performance.now(); }, true);
new MutationObserver(() => {
  if (!window.__t.list && document.querySelector('.chat-item')) window.__t.list = performance.now();
  if (window.__want && !window.__t.msg && document.querySelector(`article[data-id="${window.__want}"]`)) window.__t.msg = performance.now();
}).observe(document, {subtree: true, childList: true});
"""


def call(base: str, method: str, path: str, body: object = None, token: str | None = None) -> object:
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def login(base: str, email: str) -> dict:
    return call(base, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})  # type: ignore[return-value]


def register(base: str, username: str) -> dict:
    email = f"{username}@example.com"
    call(base, "POST", "/api/v1/auth/register", {"email": email, "name": username.title(), "username": username,
                                                 "password": PASSWORD})
    return {"email": email, **login(base, email)}


def seed(base: str, n_messages: int, n_chats: int) -> tuple[dict, dict, int, int]:
    """Reader and writer accounts; a private chat of N_MESSAGES; N_CHATS more small chats."""
    reader, writer = register(base, "reader"), register(base, "writer")
    me = call(base, "GET", "/api/v1/users/me", token=writer["access_token"])
    chat = call(base, "POST", "/api/v1/chats", {"type": "private", "member_ids": [me["id"]]}, token=reader["access_token"])
    texts = [f"message {i}: the quick brown fox jumps over the lazy dog" for i in range(n_messages)]

    def post(text: str) -> int:
        return call(base, "POST", "/api/v1/messages", {"chat_id": chat["id"], "text": text},
                    token=writer["access_token"])["id"]  # type: ignore[index]

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(post, texts))
    for i in range(n_chats):
        other = register(base, f"friend{i}")
        oid = call(base, "GET", "/api/v1/users/me", token=other["access_token"])["id"]
        c = call(base, "POST", "/api/v1/chats", {"type": "private", "member_ids": [oid]}, token=reader["access_token"])
        call(base, "POST", "/api/v1/messages", {"chat_id": c["id"], "text": f"hello from friend {i}"},
             token=other["access_token"])
    # the big chat last, so it is the newest in the list
    newest = post("the newest message")
    return reader, writer, chat["id"], max(ids + [newest])


def context_with_session(browser, base: str, refresh_token: str):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
    ctx.add_init_script(f"localStorage.setItem('pufferd.refresh', {json.dumps(refresh_token)});" + WATCH)
    return ctx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=30)
    parser.add_argument("--live", type=int, default=1_000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    env = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_")} | ENV
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        init(data, env, email="admin@example.com", password=PASSWORD, bcrypt_rounds=4)
        proc, base = serve(data, Path(tmp) / "serve.log", env)
        try:
            t0 = time.monotonic()
            reader, writer, big_chat, newest = seed(base, args.messages, args.chats)
            print(f"seeded {args.messages} messages and {args.chats} chats in {time.monotonic() - t0:.1f} s")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                print(f"Chromium {browser.version}; {platform.node()}, {os.cpu_count()} cores, "
                      f"load {os.getloadavg()[0]:.1f}")
                report(browser, base, reader, writer, big_chat, newest, args)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(20)


def shell_weight(browser, base: str) -> None:
    ctx = browser.new_context(base_url=base)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto("/")
    page.wait_for_selector("text=Sign in")
    page.wait_for_timeout(1500)  # the service worker's precache requests are not the shell: counted apart
    shell = {urls[r]: n for r, n in sizes.items() if "/api/" not in urls[r]}
    api_bytes = sum(n for r, n in sizes.items() if "/api/" in urls[r])
    print(f"\n1. First load, signed out, empty cache: {sum(shell.values()) / 1024:.1f} KB on the wire in "
          f"{len(shell)} responses (+ {api_bytes / 1024:.1f} KB API); budget 150 KB")
    for url, n in sorted(shell.items(), key=lambda x: -x[1])[:8]:
        print(f"   {n / 1024:7.1f} KB  {url.replace(base, '')}")
    ctx.close()


def report(browser, base: str, reader: dict, writer: dict, big_chat: int, newest: int, args) -> None:
    shell_weight(browser, base)
    loads, opens, gaps, windows = [], [], [], []
    for _ in range(args.rounds):
        session = login(base, reader["email"])
        ctx = context_with_session(browser, base, session["refresh_token"])
        page = ctx.new_page()
        page.goto("/")
        page.wait_for_function("() => window.__t.list")
        loads.append(page.evaluate("() => window.__t.list"))
        page.evaluate(f"() => {{ window.__want = {newest}; }}")
        page.wait_for_timeout(300)
        page.locator(f'a[href="/chat/{big_chat}"]').click()
        page.wait_for_function("() => window.__t.msg")
        opens.append(page.evaluate("() => window.__t.msg - window.__t.down"))
        # scroll back: 20 times to the top of the window, watching frame gaps and the DOM size
        page.evaluate("""() => { window.__gap = 0; window.__most = 0; let last = performance.now();
            const tick = t => { window.__gap = Math.max(window.__gap, t - last); last = t;
              window.__most = Math.max(window.__most, document.querySelectorAll('article.msg').length);
              if (!window.__stop) requestAnimationFrame(tick); }; requestAnimationFrame(tick); }""")
        for _ in range(20):
            page.evaluate("() => { document.querySelector('.messages').scrollTop = 0; }")
            page.wait_for_timeout(120)
        page.evaluate("() => { window.__stop = true; }")
        gaps.append(page.evaluate("() => window.__gap"))
        windows.append(page.evaluate("() => window.__most"))
        ctx.close()
    print(f"\n2. Cold load to the chat list ({args.chats + 1} chats), median {statistics.median(loads):.0f} ms, "
          f"max {max(loads):.0f} ms ({args.rounds} rounds: {', '.join(f'{x:.0f}' for x in loads)}); budget 1,000 ms")
    print(f"3. Open the {args.messages:,}-message chat to its newest message: median {statistics.median(opens):.0f} ms, "
          f"max {max(opens):.0f} ms; budget 100 ms; rounds: {', '.join(f'{x:.0f}' for x in opens)}")
    print(f"   scrolling back 20 windows: longest frame gap median {statistics.median(gaps):.0f} ms, "
          f"max {max(gaps):.0f} ms; most messages in the DOM {max(windows)}")

    session = login(base, reader["email"])
    ctx = context_with_session(browser, base, session["refresh_token"])
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    page.goto(f"/chat/{big_chat}")
    page.wait_for_selector(f'article[data-id="{newest}"]')
    cdp.send("HeapProfiler.collectGarbage")
    before = cdp.send("Runtime.getHeapUsage")["usedSize"]
    texts = [f"live {i}: a message arriving while the chat is open" for i in range(args.live)]
    t0 = time.monotonic()
    last = None
    for i in range(0, len(texts), 50):
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda t: call(base, "POST", "/api/v1/messages", {"chat_id": big_chat, "text": t},
                                               token=writer["access_token"])["id"], texts[i:i + 50]))
        last = max(ids)
    page.wait_for_selector(f'article[data-id="{last}"]', timeout=60_000)
    took = time.monotonic() - t0
    cdp.send("HeapProfiler.collectGarbage")
    after = cdp.send("Runtime.getHeapUsage")
    count = page.evaluate("() => document.querySelectorAll('article.msg').length")
    print(f"4. JS heap: {before / 2**20:.1f} MB with the chat open, {after['usedSize'] / 2**20:.1f} MB after "
          f"{args.live:,} live messages ({args.live / took:.0f}/s; total heap {after['totalSize'] / 2**20:.1f} MB, "
          f"{count} messages in the DOM); budget 100 MB")
    ctx.close()


if __name__ == "__main__":
    main()
