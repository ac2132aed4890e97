"""Helpers for the accounts tests: register and log in over HTTP, read the mail outbox."""
from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pyotp

from pufferd.web.keys import CTX

PASSWORD = "correct horse battery"

# every limit off unless a test module turns one on
NO_LIMITS: dict[str, object] = {
    "login_rate_limit_per_minute": 0, "register_rate_limit_per_minute": 0,
    "refresh_rate_limit_per_minute": 0, "reset_rate_limit_per_minute": 0,
}


@dataclass
class Account:
    email: str
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(client, username: str, *, password: str = PASSWORD, name: str | None = None,
                   email_addr: str | None = None) -> dict[str, Any]:
    body = {"email": email_addr or f"{username}@example.com", "name": name or username.title(),
            "username": username, "password": password}
    resp = await client.post("/api/v1/auth/register", json=body)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def login(client, email_addr: str, password: str = PASSWORD, **extra: Any):
    return await client.post("/api/v1/auth/login", json={"email": email_addr, "password": password, **extra})


async def account(client, username: str, *, password: str = PASSWORD, headers: dict[str, str] | None = None,
                  ) -> Account:
    """Register USERNAME and log in once."""
    await register(client, username, password=password)
    resp = await client.post("/api/v1/auth/login", headers=headers or {},
                             json={"email": f"{username}@example.com", "password": password})
    assert resp.status == 200, await resp.text()
    tokens = await resp.json()
    return Account(f"{username}@example.com", username, password, tokens["access_token"], tokens["refresh_token"])


async def mail_sent(client) -> None:
    """Wait for the mail work that requests left running after their answer (reset, resend)."""
    await client.app[CTX].mail_tasks.drain()


def outbox(data_dir: Path) -> list[Message]:
    """Every mail written to DIR/mail/outbox, oldest first."""
    files = sorted((data_dir / "mail" / "outbox").glob("*.eml"))
    return [email.message_from_bytes(f.read_bytes()) for f in files]


def mail_token(msg: Message) -> str:
    body = msg.get_payload(decode=True).decode()  # type: ignore[union-attr]
    match = re.search(r"[?&]token=([A-Za-z0-9_\-%]+)", body)
    assert match, body
    return match.group(1)


def last_token_to(data_dir: Path, address: str, subject_word: str) -> str:
    mails = [m for m in outbox(data_dir) if m["To"] == address and subject_word in m["Subject"]]
    assert mails, f"no mail to {address} about {subject_word}"
    return mail_token(mails[-1])


def code_at(secret: str, t: float) -> str:
    return pyotp.TOTP(secret).at(t)
