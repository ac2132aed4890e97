"""Every server event, caused by real HTTP calls, seen by two users with two devices each."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.web.realtime_helpers import connect, make_chat


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # presence is exercised in test_realtime_activity; keep these streams to state events
    return {"presence_max_group_members": 0, "presence_grace_seconds": 0.05}


async def drain(sock, quiet: float = 0.15) -> list[dict]:
    """Every frame until the socket has been quiet for QUIET seconds."""
    frames = []
    while True:
        try:
            msg = await sock.ws.receive(timeout=quiet)
        except TimeoutError:
            return frames
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        frames.append(json.loads(msg.data))


async def call(client, method: str, path: str, user, expect: int, **kw) -> dict | None:
    resp = await client.request(method, path, headers=user.headers, **kw)
    assert resp.status == expect, await resp.text()
    return await resp.json() if resp.status != 204 else None


class Devices:
    """Both devices of one user: they must see the same frames with the same seqs."""

    def __init__(self, first, second) -> None:
        self.socks = (first, second)

    async def frames(self) -> list[dict]:
        one, two = await asyncio.gather(*(drain(s) for s in self.socks))
        assert one == two, "two devices of one user saw different streams"
        seqs = [f["seq"] for f in one if "seq" in f]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True, seqs
        return one


def of(frames: list[dict], type_: str) -> list[dict]:
    return [f["data"] for f in frames if f["type"] == type_]


async def test_every_state_change_reaches_every_device_of_every_member(client, alice, bob, carol):
    a = Devices(await connect(client, alice), await connect(client, alice))
    b = Devices(await connect(client, bob), await connect(client, bob))
    c = await connect(client, carol)  # not a member: must see none of it

    # chat_updated + notification (added_to_chat): a group is created
    chat = await call(client, "POST", "/api/v1/chats", alice, 200,
                      json={"type": "group", "title": "Team", "member_ids": [bob.id]})
    fa, fb = await asyncio.gather(a.frames(), b.frames())
    assert [d["id"] for d in of(fa, "chat_updated")] == [chat["id"]]
    assert [d["id"] for d in of(fb, "chat_updated")] == [chat["id"]]
    assert of(fb, "notification")[0]["event_type"] == "added_to_chat"

    # message_created (+ notification for bob)
    sent = await call(client, "POST", "/api/v1/messages", alice, 201,
                      json={"chat_id": chat["id"], "type": "text", "text": "hello team"})
    fa, fb = await asyncio.gather(a.frames(), b.frames())
    assert [(d["id"], d["text"]) for d in of(fa, "message_created")] == [(sent["id"], "hello team")]
    assert [(d["id"], d["text"]) for d in of(fb, "message_created")] == [(sent["id"], "hello team")]
    note = of(fb, "notification")[0]
    assert note["event_type"] == "message_created"
    assert json.loads(note["payload"])["message_id"] == sent["id"]  # NotificationRead: payload is JSON text
    assert of(fa, "notification") == []

    # message_updated
    await call(client, "PUT", f"/api/v1/messages/{sent['id']}", alice, 200, json={"text": "hello all"})
    for frames in await asyncio.gather(a.frames(), b.frames()):
        assert [(d["id"], d["text"]) for d in of(frames, "message_updated")] == [(sent["id"], "hello all")]

    # reactions_updated
    await call(client, "POST", f"/api/v1/messages/{sent['id']}/reactions/toggle", bob, 200, json={"emoji": "👍"})
    for frames in await asyncio.gather(a.frames(), b.frames()):
        (update,) = of(frames, "reactions_updated")
        assert update["message_id"] == sent["id"]
        assert update["reactions"] == [{"emoji": "👍", "count": 1}]

    # message_status
    await call(client, "POST", "/api/v1/messages/status", bob, 200,
               json={"chat_id": chat["id"], "message_id": sent["id"], "status": "message_read"})
    for frames in await asyncio.gather(a.frames(), b.frames()):
        assert of(frames, "message_status") == [{
            "chat_id": chat["id"], "user_id": bob.id, "last_delivered_message_id": sent["id"],
            "last_read_message_id": sent["id"]}]

    # message_deleted
    await call(client, "DELETE", f"/api/v1/messages/{sent['id']}?for_all=true", alice, 204)
    for frames in await asyncio.gather(a.frames(), b.frames()):
        assert of(frames, "message_deleted") == [{"chat_id": chat["id"], "message_id": sent["id"]}]

    # chat_updated after a title change
    await call(client, "PATCH", f"/api/v1/chats/{chat['id']}/title", alice, 200, json={"title": "Team 2"})
    for frames in await asyncio.gather(a.frames(), b.frames()):
        assert [d["title"] for d in of(frames, "chat_updated")] == ["Team 2"]

    # chat_removed for the removed member, chat_updated for the rest
    await call(client, "DELETE", f"/api/v1/chats/{chat['id']}/members/{bob.id}", alice, 204)
    fa, fb = await asyncio.gather(a.frames(), b.frames())
    assert of(fb, "chat_removed") == [{"chat_id": chat["id"]}]
    assert of(fa, "chat_removed") == []
    assert [d["members_count"] for d in of(fa, "chat_updated")] == [1]

    # a message after the removal no longer reaches bob
    await call(client, "POST", "/api/v1/messages", alice, 201,
               json={"chat_id": chat["id"], "type": "text", "text": "bob is gone"})
    assert len(of(await a.frames(), "message_created")) == 1
    assert await b.frames() == []

    assert await drain(c, quiet=0.1) == []


async def test_private_chat_messages_reach_both_devices_of_both_sides_in_order(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    a = Devices(await connect(client, alice), await connect(client, alice))
    b = Devices(await connect(client, bob), await connect(client, bob))
    # alice's presence reaches bob's sockets connected before it was published and is in the
    # hello of the later ones: let it settle so that both devices start from the same point
    await asyncio.gather(*(drain(s) for s in a.socks + b.socks))
    texts = [f"m{i}" for i in range(10)]
    for i, text in enumerate(texts):
        sender = alice if i % 2 == 0 else bob
        await call(client, "POST", "/api/v1/messages", sender, 201,
                   json={"chat_id": chat, "type": "text", "text": text})
    for frames in await asyncio.gather(a.frames(), b.frames()):
        assert [d["text"] for d in of(frames, "message_created")] == texts


async def test_resume_across_a_forced_disconnect_with_messages_sent_meanwhile(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    laptop, phone = await connect(client, bob), await connect(client, bob)
    await call(client, "POST", "/api/v1/messages", alice, 201, json={"chat_id": chat, "type": "text", "text": "m0"})
    before = [f for f in await drain(phone) if f["type"] == "message_created"]
    last_seq = (await drain(laptop))[-1]["seq"]
    phone.ws._response.connection.transport.abort()  # type: ignore[union-attr]  # the network drops
    for i in range(1, 4):
        await call(client, "POST", "/api/v1/messages", alice, 201,
                   json={"chat_id": chat, "type": "text", "text": f"m{i}"})
    phone = await connect(client, bob, since=last_seq)
    replayed, on_laptop = await asyncio.gather(drain(phone), drain(laptop))
    assert replayed == on_laptop  # the same events, seqs and order as the device that stayed online
    assert [d["text"] for d in of(before, "message_created")] == ["m0"]
    assert [d["text"] for d in of(replayed, "message_created")] == ["m1", "m2", "m3"]
    assert [f["seq"] for f in replayed] == list(range(last_seq + 1, last_seq + 1 + len(replayed)))
