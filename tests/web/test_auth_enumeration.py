"""Whether an e-mail address has an account is not told by `request-password-reset` or
`resend-verification`: the answer is the same, and the caller does not wait for the mail work
(token, SMTP session), which happens after the answer for known addresses only."""
from __future__ import annotations

import asyncio
import time

import pytest
from auth_support import NO_LIMITS, PASSWORD, login, mail_sent, mail_token, register
from smtp_sink import SmtpSink

from pufferd.app import make_app
from pufferd.config import load_settings

RESET, RESEND = "/api/v1/auth/request-password-reset", "/api/v1/auth/resend-verification"
VARYING = {"Date", "X-Request-Id"}


@pytest.fixture
def settings_overrides():
    return dict(NO_LIMITS)


@pytest.fixture
async def smtp():
    sink = SmtpSink()
    await sink.start()
    yield sink
    if sink.hold is not None:
        sink.hold.set()
    await sink.stop()


@pytest.fixture
async def smtp_client(aiohttp_client, data_dir, smtp):
    settings = load_settings(data_dir, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                             mail_from="Chat <chat@example.org>", smtp_timeout_seconds=5, **NO_LIMITS)
    return await aiohttp_client(make_app(settings))


async def answer(client, path: str, address: str) -> tuple[int, dict[str, str], bytes]:
    resp = await client.post(path, json={"email": address})
    headers = {k: v for k, v in resp.headers.items() if k not in VARYING}
    return resp.status, headers, await resp.read()


@pytest.mark.parametrize("path", [RESET, RESEND])
async def test_known_and_unknown_addresses_get_the_same_answer(client, path):
    await register(client, "dana")  # unverified: both a reset and a resend mail it
    known = await answer(client, path, "dana@example.com")
    unknown = await answer(client, path, "ghost@example.com")
    assert known[0] == 200
    assert known == unknown


@pytest.mark.parametrize(("path", "subject"), [(RESET, "Reset"), (RESEND, "Confirm")])
async def test_the_answer_does_not_wait_for_the_mail(smtp_client, smtp, path, subject):
    await register(smtp_client, "dana")
    smtp.messages.clear()
    smtp.hold = asyncio.Event()  # the SMTP server stalls before taking the message
    started = time.monotonic()
    resp = await asyncio.wait_for(smtp_client.post(path, json={"email": "dana@example.com"}), 3.0)
    assert resp.status == 200, await resp.text()
    assert time.monotonic() - started < 1.0
    assert smtp.messages == []  # answered while the mail was still on its way
    smtp.hold.set()
    await mail_sent(smtp_client)
    [msg] = smtp.messages
    assert msg["To"] == "dana@example.com" and subject in msg["Subject"]
    if path == RESET:
        resp = await smtp_client.post("/api/v1/auth/reset-password",
                                      json={"token": mail_token(msg), "new_password": "a brand new secret"})
        assert resp.status == 200, await resp.text()
        assert (await login(smtp_client, "dana@example.com", PASSWORD)).status == 401


async def test_a_stalled_mail_for_a_known_address_does_not_hold_up_the_next_request(smtp_client, smtp):
    await register(smtp_client, "dana")
    smtp.messages.clear()
    smtp.hold = asyncio.Event()
    await smtp_client.post(RESET, json={"email": "dana@example.com"})
    started = time.monotonic()
    unknown = await smtp_client.post(RESET, json={"email": "ghost@example.com"})
    assert unknown.status == 200
    assert time.monotonic() - started < 1.0
    assert smtp.messages == []
    smtp.hold.set()
    await mail_sent(smtp_client)
