"""The wire format of `GET /api/v1/ws` (CONTRACT.md "Realtime"): frames and close codes.

Server events are JSON objects `{"type": T, "data": D, "seq": N}`, every one numbered and kept
for resume (typing too, as Discord's gateway does: its `expires_at` tells a client a replayed one
is stale). Control frames (`ready`, `resync_required`, `pong`, `auth_ok`, `error`) answer the
client or describe the stream; they carry no seq and are never replayed. An event's `{"type":..,"data":..,"seq":` prefix is encoded once and shared by every
recipient; each user's frame is that prefix followed by `<seq>}`, written as two parts.
"""
from __future__ import annotations

import json
from enum import IntEnum
from typing import Any


class CloseCode(IntEnum):
    """Close codes the server sends; README "Realtime" documents what a client should do."""

    GOING_AWAY = 1001      # RFC 6455: the server is shutting down; reconnect later with since
    POLICY = 1008          # RFC 6455: too many sockets for this user
    TOO_BIG = 1009         # RFC 6455: a client frame above the transport limit (sent by aiohttp)
    INTERNAL = 1011        # RFC 6455: a server bug ended this socket; reconnect with since
    REVOKED = 4001         # all sessions revoked or password reset: log in again
    TOKEN_EXPIRED = 4002   # the access token expired and no `auth` frame renewed it
    TOO_SLOW = 4008        # the socket's send queue overflowed: reconnect with since=<last seq>


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def event_prefix(type_: str, data: Any) -> bytes:
    """`{"type":T,"data":D,"seq":` — each recipient's frame continues with `<seq>}`."""
    return b'{"type":' + dumps(type_) + b',"data":' + dumps(data) + b',"seq":'


def control(type_: str, data: Any = None) -> bytes:
    """A frame without seq: `{"type":T}` or `{"type":T,"data":D}`."""
    if data is None:
        return b'{"type":' + dumps(type_) + b"}"
    return b'{"type":' + dumps(type_) + b',"data":' + dumps(data) + b"}"


def error(code: str, detail: Any, status: int | None = None) -> bytes:
    """An `error` frame answering a bad client frame; the socket stays open. A refusal by the
    domain (a pufferd.errors error) carries the HTTP `status` the same refusal answers over HTTP."""
    if status is None:
        return control("error", {"code": code, "detail": detail})
    return control("error", {"code": code, "detail": detail, "status": status})


PONG = control("pong")
