"""Helpers for the browser tests: Chromium's path and flags, viewports, mail, API set-up, axe."""
from __future__ import annotations

import email
import email.policy
import json
import os
import re
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from e2e_support import ServerProcess

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
