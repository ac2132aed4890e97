"""Voice rooms, signalling relay, private calls and ICE servers over real HTTP and WebSockets."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from tests.web.chats_helpers import set_user
from tests.web.realtime_helpers import connect, eventually, hub, make_chat

OFFER = {"kind": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" + "a=x\r\n" * 900}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"voice_max_participants": 3, "voice_ring_seconds": 0.4,
            "voice_stun_urls": ["stun:stun.example.org:3478"],
            "voice_turn_urls": ["turn:turn.example.org:3478?transport=udp"],
            "voice_turn_secret": "s3cret-shared-with-coturn", "voice_turn_ttl_seconds": 600}


async def roster(client, user, chat_id: int, expect: int = 200):
    resp = await client.get(f"/api/v1/voice/{chat_id}", headers=user.headers)
    body = await resp.json()
    assert resp.status == expect, body
    return body


async def join(sock, chat_id: int) -> dict:
    """Join; the first voice_state of that room that lists the joiner (or the error)."""
    await sock.send({"type": "voice_join", "data": {"chat_id": chat_id}})
    while True:
        frame = await sock.next("voice_state", "error")
        if frame["type"] == "error" or (frame["data"]["chat_id"] == chat_id
                                        and sock.ready["data"]["user_id"] in ids(frame)):
            return frame


def ids(state: dict) -> list[int]:
    return [p["user_id"] for p in state["data"]["participants"]]


async def test_members_join_and_leave_and_everyone_in_the_chat_sees_the_roster(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    a, b, c = await connect(client, alice), await connect(client, bob), await connect(client, carol)
    state = await join(a, chat)
    assert state["type"] == "voice_state" and ids(state) == [alice.id] and isinstance(state["seq"], int)
    assert ids(await c.next("voice_state")) == [alice.id]  # not in the room, still told
    await join(b, chat)
    assert ids(await c.next("voice_state")) == [alice.id, bob.id]
    body = await roster(client, carol, chat)
    assert body == {"chat_id": chat, "max_participants": 3, "call": None, "participants": [
        {"user_id": alice.id, "muted": False, "deafened": False, "speaking": False, "video": False},
        {"user_id": bob.id, "muted": False, "deafened": False, "speaking": False, "video": False}]}
    await a.send({"type": "voice_leave", "data": {"chat_id": chat}})
    assert ids(await c.next("voice_state")) == [bob.id]
    assert [p["user_id"] for p in (await roster(client, alice, chat))["participants"]] == [bob.id]


async def test_non_member_banned_and_timed_out_users_are_refused(client, alice, bob, carol, make_user):
    dave = await make_user()
    chat = await make_chat(client, alice, bob, carol)
    d = await connect(client, dave)
    assert (await join(d, chat))["data"] == {"code": "not_found", "detail": "Chat not found", "status": 404}
    await roster(client, dave, chat, 404)
    resp = await client.post(f"/api/v1/chats/{chat}/bans/{bob.id}", headers=alice.headers)
    assert resp.status == 204, await resp.text()
    b = await connect(client, bob)
    assert (await join(b, chat))["data"]["code"] == "not_found"
    await roster(client, bob, chat, 404)
    await set_user(client, carol, timeout_until=time.time() + 600, timeout_reason="cool down")
    c = await connect(client, carol)
    err = await join(c, chat)
    assert err["data"]["code"] == "forbidden" and "timed out" in err["data"]["detail"], err
    assert (await roster(client, carol, chat))["participants"] == []  # reading is still allowed


async def test_a_full_room_is_409_and_the_room_is_unchanged(client, alice, bob, carol, make_user):
    dave = await make_user()
    chat = await make_chat(client, alice, bob, carol, dave)
    socks = [await connect(client, u) for u in (alice, bob, carol, dave)]
    for s in socks[:3]:
        await join(s, chat)
    err = await join_error(socks[3], chat)
    assert err == {"code": "conflict", "status": 409,
                   "detail": "The voice room is full: it holds at most 3 participants (voice_max_participants)"}
    assert len((await roster(client, dave, chat))["participants"]) == 3


async def join_error(sock, chat_id: int) -> dict:
    await sock.send({"type": "voice_join", "data": {"chat_id": chat_id}})
    return (await sock.next("error"))["data"]


async def test_signals_are_relayed_only_to_a_participant_of_the_same_room(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    other = await make_chat(client, alice, carol)
    a, b, c = await connect(client, alice), await connect(client, bob), await connect(client, carol)
    await join(a, chat)
    await join(b, chat)
    await a.send({"type": "voice_signal", "data": {"chat_id": chat, "to_user_id": bob.id, "signal": OFFER}})
    got = await b.next("voice_signal")
    assert got == {"type": "voice_signal", "data": {"chat_id": chat, "from_user_id": alice.id, "signal": OFFER}}
    # carol is a member but not in the room: an error to alice, nothing to carol, the socket stays open
    await a.send({"type": "voice_signal", "data": {"chat_id": chat, "to_user_id": carol.id,
                                                   "signal": {"kind": "candidate", "candidate": {"candidate": "x"}}}})
    assert (await a.next("error"))["data"] == {"code": "not_found", "detail": "That user is not in this voice room", "status": 404}
    # carol, not in the room, cannot send into it either; nor can anyone through another chat's id
    await c.send({"type": "voice_signal", "data": {"chat_id": chat, "to_user_id": bob.id, "signal": OFFER}})
    assert (await c.next("error"))["data"] == {"code": "not_found", "detail": "You are not in this voice room", "status": 404}
    await a.send({"type": "voice_signal", "data": {"chat_id": other, "to_user_id": carol.id, "signal": OFFER}})
    assert (await a.next("error"))["data"]["code"] == "not_found"
    await c.silent("voice_signal", wait=0.2)
    await a.send({"type": "ping"})
    await a.next("pong")


async def test_mute_is_told_to_the_chat_and_speaking_only_to_the_room(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    a, b, c = await connect(client, alice), await connect(client, bob), await connect(client, carol)
    await join(a, chat)
    await join(b, chat)
    await c.next("voice_state")
    await c.next("voice_state")
    await a.send({"type": "voice_state", "data": {"chat_id": chat, "muted": True}})
    state = (await c.next("voice_state"))["data"]["participants"][0]
    assert state["user_id"] == alice.id and state["muted"] is True
    await a.send({"type": "voice_state", "data": {"chat_id": chat, "speaking": True}})
    frame = await b.next("voice_state")
    while frame["data"]["participants"][0]["speaking"] is not True:
        frame = await b.next("voice_state")
    assert "seq" not in frame  # speaking is not numbered nor kept for resume
    await c.silent("voice_state", wait=0.2)


async def test_a_dropped_socket_leaves_the_room_and_the_others_are_told(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    a, b = await connect(client, alice), await connect(client, bob)
    await join(a, chat)
    await join(b, chat)
    await a.close()
    assert ids(await b.next("voice_state")) == [bob.id]
    await eventually(lambda: hub(client).voice.room_of(alice.id) is None)


async def test_a_private_call_rings_is_declined_then_accepted_and_hung_up(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    a, b = await connect(client, alice), await connect(client, bob)
    assert (await join_error(a, chat))["code"] == "invalid_frame"  # 422: ring first
    await a.send({"type": "call_ring", "data": {"chat_id": chat}})
    ring = await b.next("call_ring")
    assert ring["data"]["caller_id"] == alice.id and ring["data"]["callee_id"] == bob.id
    assert ring["data"]["state"] == "ringing"
    await b.send({"type": "call_decline", "data": {"chat_id": chat}})
    assert (await a.next("call_declined"))["data"]["reason"] == "declined"
    assert (await roster(client, alice, chat))["participants"] == []
    await a.send({"type": "call_ring", "data": {"chat_id": chat}})
    await b.next("call_ring")
    await b.send({"type": "call_accept", "data": {"chat_id": chat}})
    assert (await a.next("call_accepted"))["data"]["state"] == "active"
    body = await roster(client, bob, chat)
    assert [p["user_id"] for p in body["participants"]] == [alice.id, bob.id] and body["call"]["state"] == "active"
    await a.send({"type": "voice_signal", "data": {"chat_id": chat, "to_user_id": bob.id, "signal": OFFER}})
    await b.next("voice_signal")
    await b.send({"type": "call_hangup", "data": {"chat_id": chat}})
    ended = await a.next("call_ended")
    assert ended["data"]["reason"] == "hangup" and ended["data"]["by_user_id"] == bob.id
    assert (await roster(client, alice, chat))["participants"] == []


async def test_a_socket_opened_while_a_call_rings_rings_too(client, alice, bob):
    """The callee opens the app (or another device) during the ring: that socket gets the ring as
    `call_ring` without seq; the caller's new socket gets nothing, nor does the callee's after the
    call is answered."""
    chat = await make_chat(client, alice, bob, type="private")
    a = await connect(client, alice)
    await a.send({"type": "call_ring", "data": {"chat_id": chat}})
    await a.next("call_ring")
    b = await connect(client, bob)  # opened after the ring started
    ring = await b.next("call_ring")
    assert "seq" not in ring
    assert (ring["data"]["chat_id"], ring["data"]["caller_id"], ring["data"]["state"]) == (chat, alice.id, "ringing")
    a2 = await connect(client, alice)
    await a2.silent("call_ring", wait=0.2)
    await b.send({"type": "call_accept", "data": {"chat_id": chat}})
    await a.next("call_accepted")
    b2 = await connect(client, bob)
    await b2.silent("call_ring", wait=0.2)


async def test_an_unanswered_call_times_out_and_a_busy_callee_is_reported(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, type="private")
    group = await make_chat(client, carol, bob)
    a, b = await connect(client, alice), await connect(client, bob)
    await a.send({"type": "call_ring", "data": {"chat_id": chat}})
    await b.next("call_ring")
    ended = await b.next("call_ended", timeout=2)
    assert ended["data"]["reason"] == "timeout"
    await join(b, group)
    await a.send({"type": "call_ring", "data": {"chat_id": chat}})
    busy = await a.next("call_busy")
    assert busy["data"]["callee_id"] == bob.id
    await b.silent("call_ring", wait=0.2)


async def test_ice_servers_derive_turn_credentials_and_never_send_the_secret(client, alice):
    resp = await client.get("/api/v1/voice/ice-servers", headers=alice.headers)
    body = await resp.json()
    assert resp.status == 200, body
    assert "s3cret" not in await resp.text()
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:stun.example.org:3478"], "username": None, "credential": None}
    assert turn["urls"] == ["turn:turn.example.org:3478?transport=udp"]
    expiry, _, user = turn["username"].partition(":")
    assert user == str(alice.id) and 590 <= int(expiry) - time.time() <= 601
    expected = base64.b64encode(hmac.new(b"s3cret-shared-with-coturn", turn["username"].encode(),
                                         hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected and body["ttl_seconds"] == 600
    resp = await client.get("/api/v1/voice/ice-servers")
    assert resp.status == 401


async def test_roster_of_an_unknown_chat_is_404_and_a_channel_room_is_for_its_managers(client, alice, bob):
    await roster(client, alice, 987654, 404)
    channel = await make_chat(client, alice, bob, type="channel")
    assert (await roster(client, alice, channel))["participants"] == []
    body = await roster(client, bob, channel, 403)
    assert body["detail"] == "Only the owner and admins of a channel use its voice room"


async def seen(sock, expected: list[int]) -> None:
    """Wait for the voice_state that lists EXPECTED."""
    while ids(await sock.next("voice_state")) != expected:
        pass


async def removed(sock, chat_id: int, reason: str = "removed") -> None:
    assert (await sock.next("voice_left"))["data"] == {"chat_id": chat_id, "reason": reason}


async def test_leaving_removal_and_a_chat_ban_take_the_user_out_of_the_room_at_once(client, alice, bob, carol, make_user):
    dave = await make_user()
    chat = await make_chat(client, alice, bob, carol, dave)
    a, b, c, d = [await connect(client, u) for u in (alice, bob, carol, dave)]
    for s in (a, b, c):
        await join(s, chat)
    assert (await client.post(f"/api/v1/chats/{chat}/leave", headers=bob.headers)).status == 204
    await removed(b, chat)
    await eventually(lambda: hub(client).voice.room_of(bob.id) is None)
    await seen(a, [alice.id, carol.id])
    await join(d, chat)
    assert bob.id not in hub(client).voice.room(chat).audience  # no longer told of the room
    await b.send({"type": "voice_signal", "data": {"chat_id": chat, "to_user_id": alice.id, "signal": OFFER}})
    assert (await b.next("error"))["data"]["status"] == 404  # relay stopped
    assert (await client.delete(f"/api/v1/chats/{chat}/members/{carol.id}", headers=alice.headers)).status == 204
    await removed(c, chat)
    await seen(a, [alice.id, dave.id])
    assert (await client.post(f"/api/v1/chats/{chat}/bans/{dave.id}", headers=alice.headers)).status == 204
    await removed(d, chat)
    await seen(a, [alice.id])
    assert [p["user_id"] for p in (await roster(client, alice, chat))["participants"]] == [alice.id]


async def test_a_timeout_or_server_ban_takes_the_user_out_and_a_new_member_is_told(client, alice, bob, carol, make_user):
    from admin_helpers import person
    from moderation_helpers import ban, timeout
    mod = await person(client.app, make_user, "moderator")
    chat = await make_chat(client, alice, bob, carol)
    a, b, c = [await connect(client, u) for u in (alice, bob, carol)]
    for s in (a, b, c):
        await join(s, chat)
    await timeout(client, mod, bob, time.time() + 600)
    await removed(b, chat)
    await seen(a, [alice.id, carol.id])
    await ban(client, mod, carol)
    await eventually(lambda: hub(client).voice.room_of(carol.id) is None)
    await seen(a, [alice.id])
    dave = await make_user()
    resp = await client.post(f"/api/v1/chats/{chat}/members", headers=alice.headers, json={"user_id": dave.id})
    assert resp.status == 201, await resp.text()
    await eventually(lambda: dave.id in hub(client).voice.room(chat).audience)


async def private_call(client, caller, callee):
    """A private chat of CALLER and CALLEE with a call rung and accepted: (chat id, sockets)."""
    chat = await make_chat(client, caller, callee, type="private")
    a, b = await connect(client, caller), await connect(client, callee)
    await a.send({"type": "call_ring", "data": {"chat_id": chat}})
    await b.next("call_ring")
    await b.send({"type": "call_accept", "data": {"chat_id": chat}})
    await a.next("call_accepted")
    return chat, a, b


async def test_a_timeout_of_the_callee_ends_the_private_call(client, alice, bob, make_user):
    from admin_helpers import person
    from moderation_helpers import timeout
    mod = await person(client.app, make_user, "moderator")
    chat, a, b = await private_call(client, alice, bob)
    await timeout(client, mod, bob, time.time() + 600)
    await removed(b, chat)
    ended = await a.next("call_ended")
    assert ended["data"]["reason"] == "removed"
    await eventually(lambda: hub(client).voice.room(chat) is None and chat not in hub(client).voice.calls)


async def test_joining_from_a_second_socket_takes_over_and_the_first_is_told(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    a1, a2, b = await connect(client, alice), await connect(client, alice), await connect(client, bob)
    await join(a1, chat)
    await join(b, chat)
    await join(a2, chat)
    await removed(a1, chat, "other_device")
    await b.send({"type": "voice_signal", "data": {"chat_id": chat, "to_user_id": alice.id, "signal": OFFER}})
    assert (await a2.next("voice_signal"))["data"]["from_user_id"] == bob.id
    await a1.send({"type": "voice_state", "data": {"chat_id": chat, "muted": True}})
    assert (await a1.next("error"))["data"]["status"] == 404  # the old socket is out
    await a1.close()  # closing the replaced socket does not take alice out
    await b.send({"type": "ping"})
    await b.next("pong")
    assert [p["user_id"] for p in (await roster(client, bob, chat))["participants"]] == [alice.id, bob.id]


async def test_blocking_the_other_side_ends_the_private_call(client, alice, bob):
    chat, a, b = await private_call(client, alice, bob)
    resp = await client.post(f"/api/v1/users/{alice.id}/block", headers=bob.headers)
    assert resp.status in (200, 204), await resp.text()
    assert (await a.next("call_ended"))["data"]["reason"] == "removed"
    await eventually(lambda: hub(client).voice.room(chat) is None and chat not in hub(client).voice.calls)


async def test_a_demoted_channel_admin_and_a_deleted_chat_empty_the_room(client, alice, bob, carol):
    channel = await make_chat(client, alice, bob, carol, type="channel")
    role = f"/api/v1/chats/{channel}/members/{bob.id}/role"
    assert (await client.patch(role, json={"role": "admin"}, headers=alice.headers)).status == 200
    a, b = await connect(client, alice), await connect(client, bob)
    await join(a, channel)
    await join(b, channel)
    assert (await client.patch(role, json={"role": "member"}, headers=alice.headers)).status == 200
    await removed(b, channel)
    await seen(a, [alice.id])
    group = await make_chat(client, alice, bob, carol)
    c = await connect(client, carol)
    await join(b, group)
    await join(c, group)
    resp = await client.delete(f"/api/v1/chats/{group}", params={"for_all": "true"}, headers=alice.headers)
    assert resp.status == 204, await resp.text()
    await removed(b, group)
    await removed(c, group)
    await eventually(lambda: hub(client).voice.room(group) is None)
