"""A minimal SMTP server for tests (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, NOOP, RSET, QUIT).

It stands in for the outside world only; pufferd's SMTP client code runs unchanged against it.
"""
from __future__ import annotations

import asyncio
import email
from email.message import Message


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.sessions = 0
        self.hold: asyncio.Event | None = None  # when set: DATA waits until the event is set
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1

        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        sender, rcpts = "", []
        await say("220 sink ESMTP")
        try:
            while line := await reader.readline():
                cmd = line.decode().strip()
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    await say("250-sink")
                    await say("250 8BITMIME")
                elif verb == "HELO" or verb in ("NOOP", "RSET"):
                    await say("250 OK")
                elif verb == "MAIL":
                    sender, rcpts = cmd.split(":", 1)[1].strip(), []
                    await say("250 OK")
                elif verb == "RCPT":
                    rcpts.append(cmd.split(":", 1)[1].strip())
                    await say("250 OK")
                elif verb == "DATA":
                    if self.hold is not None:
                        await self.hold.wait()
                    await say("354 end with .")
                    data = bytearray()
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    self.messages.append(email.message_from_bytes(bytes(data)))
                    self.envelopes.append((sender, rcpts))
                    await say("250 queued")
                elif verb == "QUIT":
                    await say("221 bye")
                    break
                else:
                    await say("502 not implemented")
        finally:
            writer.close()
