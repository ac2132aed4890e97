"""The Mailer port: outbox files and SMTP failures."""
from __future__ import annotations

import socket
import stat

import pytest

from pufferd import mail
from pufferd.config import load_settings
from pufferd.errors import Unavailable


async def test_outbox_writes_one_private_eml_file_per_message(settings, tmp_path):
    mailer = mail.OutboxMailer(tmp_path / "outbox")
    await mailer.send(mail.compose(settings, "x@example.com", "Hi", "link: http://h/p?token=abc\n"))
    await mailer.send(mail.compose(settings, "y@example.com", "Hi", "Grüße ?token=def\n"))
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    raw = b"".join(f.read_bytes() for f in files)
    assert b"?token=abc" in raw and b"?token=def" in raw


async def test_outbox_that_cannot_be_written_is_unavailable(settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(Unavailable):
        await mail.OutboxMailer(blocker / "outbox").send(mail.compose(settings, "x@example.com", "s", "b"))


async def test_smtp_server_that_refuses_connections_is_unavailable(data_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings(data_dir, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none")
    mailer = mail.make_mailer(settings)
    assert isinstance(mailer, mail.SmtpMailer)
    with pytest.raises(Unavailable):
        await mailer.send(mail.compose(settings, "x@example.com", "s", "b"))
    with pytest.raises(Unavailable):
        await mailer.probe()


def test_without_smtp_settings_the_outbox_is_used(settings):
    mailer = mail.make_mailer(settings)
    assert isinstance(mailer, mail.OutboxMailer) and mailer.directory == settings.outbox_dir


def test_sender_defaults_to_the_server_name_and_host(settings):
    assert mail.sender_address(settings) == "pufferd-test <noreply@127.0.0.1>"
