"""Voice rooms and private calls held in memory: who is in which room, with which socket, and
their muted / deafened / speaking / camera state (README "Voice").

Nothing here is stored: a room exists while someone is in it, and a restart empties every room
(the clients rejoin after reconnecting). A user is in at most one room at a time, with one
socket; signalling frames for them go to that socket only. The rules (who may join, who is told)
live in pufferd/voice.py; this module only keeps the state, synchronously, on the event loop.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pufferd.realtime.connection import Connection


@dataclass(slots=True)
class Participant:
    user_id: int
    conn: Connection
    joined_at: float
    muted: bool = False
    deafened: bool = False
    speaking: bool = False
    video: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "muted": self.muted, "deafened": self.deafened,
                "speaking": self.speaking, "video": self.video}


@dataclass(slots=True)
class Room:
    """The voice room of one chat; AUDIENCE is who is told of roster changes (set on each join)."""

    chat_id: int
    audience: frozenset[int] = frozenset()
    participants: dict[int, Participant] = field(default_factory=dict)  # by user id, in join order


@dataclass(slots=True)
class Call:
    """A call in a private chat: ringing until the callee accepts, declines or the ring times out."""

    chat_id: int
    caller_id: int
    callee_id: int
    expires_at: float
    accepted: bool = False
    timer: asyncio.TimerHandle | None = None

    @property
    def users(self) -> tuple[int, int]:
        return (self.caller_id, self.callee_id)


class VoiceRooms:
    """Every voice room and call of this process."""

    def __init__(self) -> None:
        self._rooms: dict[int, Room] = {}
        self._where: dict[int, int] = {}  # user id -> chat id of the room they are in
        self.calls: dict[int, Call] = {}  # chat id -> the call of that private chat

    def room(self, chat_id: int) -> Room | None:
        return self._rooms.get(chat_id)

    def room_of(self, user_id: int) -> int | None:
        """The chat id of the room USER_ID is in."""
        return self._where.get(user_id)

    def participant(self, chat_id: int, user_id: int) -> Participant | None:
        room = self._rooms.get(chat_id)
        return room.participants.get(user_id) if room else None

    def roster(self, chat_id: int) -> list[dict[str, Any]]:
        room = self._rooms.get(chat_id)
        return [p.as_dict() for p in room.participants.values()] if room else []

    def busy(self, user_id: int) -> bool:
        """USER_ID is in a room, or in a call that rings or runs."""
        return user_id in self._where or any(user_id in c.users for c in self.calls.values())

    def join(self, chat_id: int, user_id: int, conn: Connection, audience: frozenset[int], *,
             cap: int, now: float) -> Participant | None:
        """Put USER_ID in CHAT_ID's room with CONN (None when the room holds CAP others already).
        Rejoining the same room moves them to CONN and keeps their state."""
        room = self._rooms.get(chat_id)
        if room is None:
            room = self._rooms[chat_id] = Room(chat_id)
        present = room.participants.get(user_id)
        if present is None and len(room.participants) >= cap:
            if not room.participants:
                del self._rooms[chat_id]
            return None
        room.audience = audience
        if present is not None:
            present.conn = conn
            return present
        p = room.participants[user_id] = Participant(user_id, conn, now)
        self._where[user_id] = chat_id
        return p

    def leave(self, user_id: int) -> Room | None:
        """Take USER_ID out of their room; the room (maybe empty now, and then forgotten)."""
        chat_id = self._where.pop(user_id, None)
        if chat_id is None:
            return None
        room = self._rooms[chat_id]
        room.participants.pop(user_id, None)
        if not room.participants:
            del self._rooms[chat_id]
        return room

    def rooms(self) -> int:
        return len(self._rooms)
