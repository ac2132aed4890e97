"""Signalling latency of voice: an SDP offer relayed to a peer and its answer relayed back.

Starts a real `pufferd serve` on a fresh data directory, signs in PARTICIPANTS users, puts them in
one group's voice room over their WebSockets, then pairs them up: in each pair one side sends a
~3 KB `voice_signal` offer, the other answers with a ~3 KB answer as soon as the offer arrives.
Reported: offer one-way (send -> the peer receives it) and offer -> answer round trip (send ->
the answer is back), with one pair alone and with every pair at once. Client and server share
the machine, so the figures include both sides' work.

    python3 bench/bench_voice.py [--participants 6] [--rounds 2000]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import aiohttp
import benchlib

PASSWORD = "bench-password-1"
SDP = "v=0\r\n" + "a=candidate:1 1 udp 2122260223 192.168.1.20 50000 typ host generation 0\r\n" * 40


async def sign_in(http: aiohttp.ClientSession, base: str, name: str) -> tuple[int, str]:
    async with http.post(f"{base}/api/v1/auth/register", json={"email": f"{name}@example.com", "name": name,
                                                               "username": name, "password": PASSWORD}) as r:
        assert r.status == 201, await r.text()
    async with http.post(f"{base}/api/v1/auth/login", json={"email": f"{name}@example.com", "password": PASSWORD}) as r:
        token = (await r.json())["access_token"]
    async with http.get(f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}) as r:
        return (await r.json())["id"], token


async def next_of(ws: aiohttp.ClientWebSocketResponse, type_: str) -> dict:
    while True:
        frame = json.loads((await ws.receive(timeout=10)).data)
        if frame["type"] == type_:
            return frame
        if frame["type"] == "error":
            raise SystemExit(f"server error: {frame}")


async def pair_rounds(a, b, a_id: int, b_id: int, chat: int, rounds: int) -> tuple[list[float], list[float]]:
    one_way: list[float] = []
    round_trip: list[float] = []
    offer = {"type": "voice_signal", "data": {"chat_id": chat, "to_user_id": b_id,
                                              "signal": {"kind": "offer", "sdp": SDP}}}
    answer = json.dumps({"type": "voice_signal", "data": {"chat_id": chat, "to_user_id": a_id,
                                                          "signal": {"kind": "answer", "sdp": SDP}}})
    text = json.dumps(offer)
    for _ in range(rounds):
        t0 = time.perf_counter()
        await a.send_str(text)
        await next_of(b, "voice_signal")
        t1 = time.perf_counter()
        await b.send_str(answer)
        await next_of(a, "voice_signal")
        t2 = time.perf_counter()
        one_way.append((t1 - t0) * 1000)
        round_trip.append((t2 - t0) * 1000)
        await asyncio.sleep(0.05)  # below the per-socket frame limit (20/s sustained)
    return one_way, round_trip


def summary(label: str, one_way: list[float], round_trip: list[float]) -> None:
    p = benchlib.pct
    print(f"{label}: n={len(one_way)}  offer one-way p50 {p(one_way, 50):.2f} ms p99 {p(one_way, 99):.2f} ms;"
          f"  offer->answer p50 {p(round_trip, 50):.2f} ms p99 {p(round_trip, 99):.2f} ms")


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    env = {**os.environ, "REGISTER_RATE_LIMIT_PER_MINUTE": "0", "LOGIN_RATE_LIMIT_PER_MINUTE": "0",
           "PUFFERD_VOICE_MAX_PARTICIPANTS": str(max(6, args.participants))}
    benchlib.init(work / "data", env, email="admin@example.com", password=PASSWORD, bcrypt_rounds=4)
    proc, base = benchlib.serve(work / "data", work / "serve.log", env)
    try:
        async with aiohttp.ClientSession() as http:
            users = [await sign_in(http, base, f"voice{i}") for i in range(args.participants)]
            owner = {"Authorization": f"Bearer {users[0][1]}"}
            async with http.post(f"{base}/api/v1/chats", headers=owner,
                                 json={"type": "group", "title": "bench", "member_ids": [u for u, _ in users[1:]]}) as r:
                chat = (await r.json())["id"]
            socks = []
            for _uid, token in users:
                ws = await http.ws_connect(f"{base}/api/v1/ws?token={token}")
                await next_of(ws, "ready")
                await ws.send_json({"type": "voice_join", "data": {"chat_id": chat}})
                socks.append(ws)
            await asyncio.sleep(0.5)
            for ws in socks:  # drain the roster events
                while True:
                    try:
                        await ws.receive(timeout=0.2)
                    except TimeoutError:
                        break
            pairs = [(socks[i], socks[i + 1], users[i][0], users[i + 1][0]) for i in range(0, len(socks) - 1, 2)]
            await pair_rounds(*pairs[0], chat, 20)  # warm-up
            one, rt = await pair_rounds(*pairs[0], chat, args.rounds)
            summary("one pair", one, rt)
            results = await asyncio.gather(*(pair_rounds(*p, chat, args.rounds) for p in pairs))
            summary(f"{len(pairs)} pairs at once", [x for o, _ in results for x in o], [x for _, r in results for x in r])
            for ws in socks:
                await ws.close()
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
