"""A real `pufferd serve` federates with an ActivityPub server that is not pufferd: the one-actor
server of the fediverse-pasture package (and bovine, its ActivityPub library), both as processes
on 127.0.0.1. Each resolves the other's user (WebFinger and actor fetch; the peer serves its actor
only to signed GETs, as servers with "authorized fetch" do, and verifies pufferd's with the key of
pufferd's instance actor); a direct message from the peer becomes a message of the private chat
here, seen over WebSocket and the message API; the answer reaches the peer's inbox, which takes
only POSTs whose HTTP signature it verifies; a Follow from the peer is answered with an Accept,
and a follow from here reaches the peer as a Follow.

The peer runs in its own environment from requirements/federation-peer.txt (its library pins a
cryptography older than pufferd's), made once and kept under pytest's temporary root, keyed by the
lock's hash. The test is skipped only when that environment cannot be installed (no index)."""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import ADMIN_USERNAME, ServerProcess
from federation_support import federation_env, free_port, next_event, until

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "federation-peer.txt"
DRIVER = Path(__file__).with_name("federation_peer.py")


@pytest.fixture(scope="session")
def peer_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of the peer's environment, installed with --require-hashes from its lock."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    base = tmp_path_factory.getbasetemp()
    if base.name.startswith("popen-"):  # a pytest-xdist worker's directory
        base = base.parent
    home = base.parent / f"federation-peer-{digest}"  # beside pytest's numbered runs, kept across them
    python = home / "bin" / "python"
    if python.exists():
        return python
    building = base.parent / f"federation-peer-{digest}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    venv.create(building, with_pip=True)
    started = time.monotonic()
    result = subprocess.run([building / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
                             "--require-hashes", "--no-deps", "-r", LOCK],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        pytest.skip(f"fediverse-pasture (requirements/federation-peer.txt) cannot be installed: "
                    f"{result.stderr.strip()[-500:]}")
    check = subprocess.run([building / "bin" / "python", "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    sys.stderr.write(f"federation peer environment installed in {time.monotonic() - started:.1f} s\n")
    try:
        building.rename(home)
    except OSError:  # another worker finished first
        shutil.rmtree(building, ignore_errors=True)
    # the environment's scripts name the directory it was made in; only its python is used, by path
    return home / "bin" / "python"


class Peer:
    """The peer's server process and its inbox, read from the page the server streams it to."""

    def __init__(self, python: Path, directory: Path) -> None:
        self.python, self.directory = python, directory
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.actor_url = f"{self.base_url}/actor"
        self.log = directory / "peer.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([python, DRIVER, "serve", str(self.port)], cwd=directory,
                                            stdout=log, stderr=subprocess.STDOUT)
        self._buffer = ""
        self._seen = 0
        self._inbox: aiohttp.ClientResponse | None = None

    def stop(self) -> None:
        if self._inbox is not None:
            self._inbox.release()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    async def wait_ready(self, http: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            try:
                async with http.get(self.actor_url) as resp:
                    if resp.status == 401:  # up, and refusing an unsigned GET of its actor
                        self._inbox = await http.get(self.base_url + "/", timeout=aiohttp.ClientTimeout(total=None))
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError("the peer did not start: " + self.log.read_text(errors="replace"))

    async def received(self, match: Any, timeout: float = 20) -> dict[str, Any]:
        """The next activity the peer's inbox accepted for which MATCH is true (earlier ones are skipped)."""
        assert self._inbox is not None
        deadline = time.monotonic() + timeout
        while True:
            for found in re.finditer(r"<pre>(.*?)</pre>", self._buffer[self._seen:], re.S):
                activity = json.loads(found[1])
                if match(activity):
                    self._seen += found.end()
                    return activity  # type: ignore[no-any-return]
            self._seen = max(self._seen, self._buffer.rfind("</pre>") + len("</pre>"))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not in the peer's inbox: {self._buffer[-3000:]}\n"
                                     f"{self.log.read_text(errors='replace')[-3000:]}")
            try:
                chunk = await asyncio.wait_for(self._inbox.content.readany(), left)
            except TimeoutError:
                continue
            self._buffer += chunk.decode()

    def act(self, *args: str) -> dict[str, Any]:
        """Run the peer's client (as its actor, with its keys) and return what it printed."""
        result = subprocess.run([self.python, DRIVER, *args[:1], str(self.port), *args[1:]], cwd=self.directory,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (result.stdout, result.stderr[-3000:])
        return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def peer(peer_python: Path, tmp_path: Path) -> Iterator[Peer]:
    directory = tmp_path / "peer"
    directory.mkdir()
    started = Peer(peer_python, directory)
    yield started
    started.stop()


async def test_a_third_party_server_exchanges_messages_and_follows(initialised_dir: Path, start_server,
                                                                     peer: Peer) -> None:
    port = free_port()
    server: ServerProcess = start_server(initialised_dir, "--port", str(port), env=federation_env(port))
    handle = f"{ADMIN_USERNAME}@127.0.0.1:{port}"
    peer_handle = f"actor@127.0.0.1:{peer.port}"
    async with aiohttp.ClientSession() as http:
        async def api(method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
            async with http.request(method, server.base_url + path, headers=server.headers(), **kwargs) as resp:
                assert resp.status == expect, (resp.status, await resp.text(), server.log()[-3000:])
                return await resp.json() if resp.status != 204 else None

        await peer.wait_ready(http)
        # the peer serves its actor only to signed GETs ("authorized fetch"): resolving it below
        # works because pufferd signs its GETs with its instance actor's key, which the peer fetches
        async with http.get(peer.actor_url, headers={"Accept": "application/activity+json"}) as resp:
            assert resp.status == 401, await resp.text()
        # the peer's inbox refuses what is not signed: what it accepts below was verified
        async with http.post(peer.actor_url + "/inbox", json={"type": "Create", "actor": f"http://127.0.0.1:{port}"},
                             headers={"content-type": "application/activity+json"}) as resp:
            assert resp.status == 401

        # the peer resolves the user here: WebFinger, then the actor document (a signed GET)
        resolved = peer.act("resolve", f"acct:{handle}")
        me = await api("GET", "/api/v1/users/me")
        assert resolved["actor_url"] == f"http://127.0.0.1:{port}/ap/users/{me['id']}", resolved
        assert resolved["actor"]["preferredUsername"] == ADMIN_USERNAME
        assert resolved["actor"]["publicKey"]["owner"] == resolved["actor_url"]
        # pufferd resolves the peer's actor
        remote = await api("POST", "/api/v1/federation/resolve", json={"handle": "@" + peer_handle})
        assert remote["is_remote"] is True and remote["username"] == peer_handle, remote
        assert remote["actor_url"] == peer.actor_url

        # a direct message from the peer, addressed only to the user here: a private chat message
        ws = await http.ws_connect(f"{server.base_url}/api/v1/ws", headers=server.headers())
        sent = peer.act("send", f"acct:{handle}", "hello from <b>elsewhere</b>")
        assert sent["status"] == 202, sent
        assert sent["activity"]["to"] == [resolved["actor_url"]], sent["activity"]
        got = await next_event(ws, "message_created", {"text": "hello from elsewhere"})
        assert got["sender_id"] == remote["id"], got
        chat = await api("GET", f"/api/v1/chats/{got['chat_id']}")
        assert chat["type"] == "private", chat
        texts = [m["text"] for m in await api("GET", f"/api/v1/messages/{got['chat_id']}")]
        assert texts == ["hello from elsewhere"], texts

        # the answer from here reaches the peer's inbox, signed so that the peer accepts it
        answer = await api("POST", "/api/v1/messages", 201,
                           json={"chat_id": got["chat_id"], "type": "text", "text": "hello back"})
        create = await peer.received(lambda a: a.get("type") == "Create")
        assert create["actor"] == resolved["actor_url"], create
        assert create["object"]["type"] == "Note" and "hello back" in create["object"]["content"], create
        assert create["object"]["to"] in ([peer.actor_url], peer.actor_url), create

        async def delivered() -> bool:
            rows = await api("GET", "/api/v1/federation/queue")
            return any(r["activity_type"] == "Create" and r["state"] == "delivered" for r in rows)
        assert await until(delivered), await api("GET", "/api/v1/federation/queue")
        assert answer["chat_id"] == got["chat_id"]

        # the peer follows the user here: pufferd answers with an Accept of that Follow
        follow = peer.act("follow", f"acct:{handle}")
        assert follow["status"] == 202, follow
        accept = await peer.received(lambda a: a.get("type") == "Accept")
        accepted = accept["object"]
        assert (accepted["id"] if isinstance(accepted, dict) else accepted) == follow["activity"]["id"], accept

        async def follower() -> bool:
            rows = await api("GET", "/api/v1/federation/followers")
            return any(r["user"]["username"] == peer_handle and r["state"] == "accepted" for r in rows)
        assert await until(follower), await api("GET", "/api/v1/federation/followers")

        # the user here follows the peer: the Follow arrives (the peer never answers one)
        await api("POST", "/api/v1/federation/follow", json={"handle": "@" + peer_handle})
        ours = await peer.received(lambda a: a.get("type") == "Follow")
        assert ours["actor"] == resolved["actor_url"] and ours["object"] == peer.actor_url, ours
        following = await api("GET", "/api/v1/federation/following")
        assert [(r["user"]["username"], r["state"]) for r in following] == [(peer_handle, "pending")], following
        await ws.close()
