"""The `Mailer` port (DESIGN.md): SMTP when configured, else the outbox directory (CONTRACT.md).

Both implementations do their I/O on a thread, never on the event loop. An SMTP server that cannot
be reached, or that refuses the message, is `Unavailable` (503, API reference section 1).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import smtplib
import ssl
import time
from collections.abc import Awaitable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from pufferd.config import Settings
from pufferd.errors import Unavailable

log = logging.getLogger("pufferd.mail")

UNAVAILABLE = "Email service unavailable, try again later"


class Mailer(Protocol):
    """Delivers one message; `probe` checks that delivery would be possible right now."""

    async def send(self, message: EmailMessage) -> None: ...

    async def probe(self) -> None: ...


def sender_address(settings: Settings) -> str:
    if settings.mail_from:
        return settings.mail_from
    host = urlsplit(settings.base_url).hostname or "localhost"
    return f"{settings.server_name} <noreply@{host}>"


def compose(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message from this server."""
    msg = EmailMessage()
    msg["From"] = sender_address(settings)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=urlsplit(settings.base_url).hostname or "localhost")
    # no quoted-printable: the link (and its `token=`) stays readable in the .eml file as it is
    msg.set_content(body, cte="7bit" if body.isascii() else "8bit")
    return msg


class OutboxMailer:
    """Writes each message as one .eml file (mode 0600) into DIR/mail/outbox."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message.as_bytes())

    async def probe(self) -> None:
        if not await asyncio.to_thread(os.access, self.directory, os.W_OK):
            raise Unavailable(UNAVAILABLE)

    def _write(self, data: bytes) -> None:
        name = f"{time.time_ns()}-{secrets.token_hex(4)}.eml"
        tmp = self.directory / f".{name}.tmp"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / name)  # readers never see a half-written file
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            log.error("cannot write mail to %s: %s", self.directory, exc.strerror)
            raise Unavailable(UNAVAILABLE) from None


class SmtpMailer:
    """Sends through the configured SMTP server (plain, STARTTLS or implicit TLS)."""

    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.user = settings.smtp_user
        self._password = settings.smtp_password
        self.security = settings.smtp_security
        self.timeout = settings.smtp_timeout_seconds

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._session, message)

    async def probe(self) -> None:
        await asyncio.to_thread(self._session, None)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=ssl.create_default_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def _session(self, message: EmailMessage | None) -> None:
        try:
            with self._connect() as smtp:
                if self.user:
                    smtp.login(self.user, self._password.get_secret_value() if self._password else "")
                if message is None:
                    smtp.noop()
                else:
                    smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            # never log the message: it carries a one-time token
            log.error("SMTP %s:%s failed: %s", self.host, self.port, exc.__class__.__name__ + f": {exc}")
            raise Unavailable(UNAVAILABLE) from None


class MailTasks:
    """Mail work a request starts and the server finishes after answering it.

    `request-password-reset` and `resend-verification` answer at once, the same way for every
    address; whether the address is known, the token it gets and the SMTP session are decided
    and done here, so neither the answer nor its timing tells a caller which addresses have an
    account. A failure is logged (never the message: it carries a one-time token).
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Awaitable[None], what: str) -> None:
        """Run WORK in the background; WHAT names it in the log."""
        task = asyncio.ensure_future(self._guard(work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(work: Awaitable[None], what: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Unavailable:
            log.warning("%s: the mail could not be sent", what)
        except Exception:
            log.exception("%s failed", what)

    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, cancel_after: float | None = None) -> None:
        """Wait for the mail work started so far (at shutdown, before the database closes; in
        tests); what is still running after CANCEL_AFTER seconds is cancelled."""
        if not self._tasks:
            return
        tasks = list(self._tasks)
        _, late = await asyncio.wait(tasks, timeout=cancel_after)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)


def make_mailer(settings: Settings) -> Mailer:
    """SMTP when smtp_host is set, else the outbox directory."""
    if settings.smtp_host:
        return SmtpMailer(settings)
    return OutboxMailer(settings.outbox_dir)
