"""Resume with ?since= (exactly once, in order, or resync_required) and backpressure (4008)."""
from __future__ import annotations

import asyncio
import time

import pytest

from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.db import users_q
from pufferd.web.keys import CTX
from tests.web.realtime_helpers import connect, eventually, hub, publish, token_for

LOG = 200  # events per user log in this module


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"ws_resume_events": LOG, "ws_resume_seconds": 60, "ws_send_queue_bytes": 64 * 1024,
            "presence_grace_seconds": 0.05}


async def read_seqs(sock, n: int) -> list[int]:
    frames = [await sock.recv() for _ in range(n)]
    assert all("seq" in f for f in frames), frames
    return [f["seq"] for f in frames]


async def test_resume_after_a_forced_disconnect_replays_missed_events_exactly_once_in_order(client, alice):
    sock = await connect(client, alice)
    for i in range(3):
        publish(client, "notification", {"n": i}, alice)
    seen = [await sock.recv() for _ in range(3)]
    last = seen[-1]["seq"]
    # the network drops: the server notices the dead transport, the client never sent a close
    sock.ws._response.connection.transport.abort()  # type: ignore[union-attr]
    await eventually(lambda: hub(client).sockets_of(alice.id) == 0)
    for i in range(3, 8):
        publish(client, "notification", {"n": i}, alice)
    again = await connect(client, alice, since=last)
    assert again.seq == last + 5
    replay = [await again.recv() for _ in range(5)]
    assert [f["data"]["n"] for f in replay] == [3, 4, 5, 6, 7]
    assert [f["seq"] for f in replay] == list(range(last + 1, last + 6))
    publish(client, "notification", {"n": 8}, alice)
    live = await again.recv()
    assert (live["data"]["n"], live["seq"]) == (8, last + 6)
    await again.silent(wait=0.2)


async def test_resume_from_the_current_seq_replays_nothing(client, alice):
    sock = await connect(client, alice)
    publish(client, "notification", {"n": 1}, alice)
    last = (await sock.recv())["seq"]
    await sock.close()
    again = await connect(client, alice, since=last)
    await again.silent(wait=0.2)


async def test_resume_while_another_device_stays_connected(client, alice):
    laptop = await connect(client, alice)
    phone = await connect(client, alice)
    publish(client, "notification", {"n": 0}, alice)
    last = (await phone.recv())["seq"]
    assert (await laptop.recv())["seq"] == last
    await phone.close()
    publish(client, "notification", {"n": 1}, alice)
    assert (await laptop.recv())["seq"] == last + 1
    phone = await connect(client, alice, since=last)
    replayed = await phone.recv()
    assert (replayed["data"]["n"], replayed["seq"]) == (1, last + 1)
    await phone.silent(wait=0.2)


async def test_resync_required_when_the_gap_is_larger_than_the_log(client, alice):
    sock = await connect(client, alice)
    start = sock.seq
    await sock.close()
    await eventually(lambda: hub(client).sockets_of(alice.id) == 0)
    for i in range(LOG + 10):
        publish(client, "notification", {"n": i}, alice)
    again = await connect(client, alice, since=start)
    answer = await again.recv()
    assert answer == {"type": "resync_required", "data": {"seq": start + LOG + 10}}
    assert again.seq == start + LOG + 10
    publish(client, "notification", {"n": 0}, alice)
    assert (await again.recv())["seq"] == start + LOG + 11


async def test_resume_at_the_edge_of_the_log_is_complete(client, alice):
    sock = await connect(client, alice)
    start = sock.seq
    await sock.close()
    for i in range(LOG):  # exactly the log's size
        publish(client, "notification", {"n": i}, alice)
    again = await connect(client, alice, since=start)
    seqs = await read_seqs(again, LOG)
    assert seqs == list(range(start + 1, start + LOG + 1))


@pytest.mark.parametrize("offset", [-1, +1])
async def test_resync_required_for_a_seq_this_log_never_issued(client, alice, offset):
    sock = await connect(client, alice)
    publish(client, "notification", {"n": 0}, alice)
    await sock.recv()
    await sock.close()
    log = hub(client).log_of(alice.id)
    since = log.base + offset if offset < 0 else log.last_seq + offset  # before the log, or ahead of it
    again = await connect(client, alice, since=since)
    assert (await again.recv())["type"] == "resync_required"


async def test_resync_required_after_a_restart_of_the_server(client, alice):
    # a seq from an earlier process: a fresh log starts above every seq handed out before
    assert hub(client).log_of(alice.id) is None
    again = await connect(client, alice, since=1_000)
    assert (await again.recv())["type"] == "resync_required"
    assert again.seq > 10**15


async def test_events_for_users_never_connected_are_not_kept(client, alice, bob):
    publish(client, "notification", {"n": 0}, bob)
    assert hub(client).log_of(bob.id) is None


async def test_typing_is_numbered_and_replayed_like_every_event(client, alice):
    sock = await connect(client, alice)
    typing = {"chat_id": 1, "user_id": 99, "expires_at": "2026-01-01T00:00:00Z"}
    publish(client, "typing", typing, alice)
    live = await sock.recv()
    assert live == {"type": "typing", "data": typing, "seq": sock.seq + 1}
    await sock.close()
    publish(client, "typing", typing, alice)
    again = await connect(client, alice, since=sock.seq + 1)
    assert await again.recv() == {"type": "typing", "data": typing, "seq": sock.seq + 2}


# backpressure -------------------------------------------------------------------------------

async def test_reader_that_stops_reading_is_closed_with_4008_and_resumes_without_loss(client, alice):
    sock = await connect(client, alice)
    publish(client, "notification", {"n": -1}, alice)
    last = (await sock.recv())["seq"]
    big = "x" * 200_000
    published = 0
    while not any(c.closed for c in hub(client)._conns.get(alice.id, ())) and published < LOG:
        # the client reads nothing now: loopback buffers fill, then the server's 64 KiB bound
        publish(client, "notification", {"n": published, "pad": big}, alice)
        published += 1
        await asyncio.sleep(0.001)
    assert published < LOG, "the socket was never closed"
    received = []
    while True:
        msg = await sock.ws.receive(timeout=5)
        if msg.type.name != "TEXT":
            break
        received.append(msg.json())
    assert sock.ws.close_code == 4008
    for _ in range(3):  # events while the client is away
        publish(client, "notification", {"n": published}, alice)
        published += 1
    if received:
        last = received[-1]["seq"]
    again = await connect(client, alice, since=last)
    rest = [await again.recv(timeout=10) for _ in range(published - len(received))]
    assert [f["data"]["n"] for f in received + rest] == list(range(published))
    assert [f["seq"] for f in rest] == list(range(last + 1, last + 1 + len(rest)))
    await again.silent(wait=0.2)


async def test_slow_reader_is_closed_with_4008_while_others_keep_receiving(client, alice, bob):
    slow = await connect(client, alice)
    fast = await connect(client, bob)
    big = "x" * 30_000
    closed_at = None
    for i in range(400):  # ~12 MB for alice, who never reads; loopback buffers fill, then the queue
        publish(client, "notification", {"n": i, "pad": big}, alice)
        publish(client, "notification", {"n": i}, bob)
        assert (await fast.recv())["data"]["n"] == i
        if not hub(client).sockets_of(alice.id) or any(c.closed for c in hub(client)._conns.get(alice.id, ())):
            closed_at = i
            break
        await asyncio.sleep(0)
    assert closed_at is not None, "the slow socket was never closed"
    code = await slow.closed_with(timeout=10)
    assert code == 4008


@pytest.fixture
async def timed(settings, aiohttp_client):
    """The app on a FakeClock (starting now), and one user with a token valid on that clock."""
    clock = FakeClock(start=time.time())
    app = make_app(settings, clock=clock)
    client = await aiohttp_client(app)
    user = await app[CTX].db.write(lambda c: users_q.insert(
        c, email="zed@example.com", username="zed", name="Zed", password_hash="x", now=clock.time()))
    return client, clock, user, token_for(client, user, ttl=3600)


async def test_idle_log_is_dropped_after_the_resume_window(timed):
    client, clock, user, token = timed
    sock = await connect(client, user, token=token)
    publish(client, "notification", {}, user)
    last = (await sock.recv())["seq"]
    await sock.close()
    await eventually(lambda: hub(client).sockets_of(user.id) == 0)
    clock.advance(30)
    hub(client).sweep()
    assert hub(client).log_of(user.id) is not None  # inside the 60 s window
    clock.advance(31)
    hub(client).sweep()
    assert hub(client).log_of(user.id) is None
    again = await connect(client, user, token=token, since=last)
    assert (await again.recv())["type"] == "resync_required"


async def test_events_older_than_the_resume_window_are_not_replayed(timed):
    client, clock, user, token = timed
    laptop = await connect(client, user, token=token)  # keeps the log alive
    phone = await connect(client, user, token=token)
    start = phone.seq
    await phone.close()
    publish(client, "notification", {"n": 0}, user)
    clock.advance(61)
    publish(client, "notification", {"n": 1}, user)
    again = await connect(client, user, token=token, since=start)
    assert (await again.recv())["type"] == "resync_required"
    recent = await connect(client, user, token=token, since=start + 1)
    assert (await recent.recv())["data"] == {"n": 1}
    await laptop.close()
