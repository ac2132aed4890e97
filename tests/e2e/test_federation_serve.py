"""Two real `pufferd serve` processes on loopback with different server names federate: they
resolve each other's users, exchange direct messages both ways (replies included) seen live over
WebSocket, and a message sent while the other server is down arrives after it restarts; follows and
unfollows show on both sides and a block ends them; edits, deletes for everyone and reactions
appear live on the other side; an attachment arrives as a file of the other server (fetched from
its signed Document link), and one too large to fetch as that link, which downloads the file from
its server until it expires (an altered link does not). With three servers, a profile change reaches two
followers on one server with one POST to its shared inbox, and a follower on the third."""
from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import aiohttp
from e2e_support import ADMIN_USERNAME, ServerProcess
from federation_support import federation_env, free_port, next_event, until


async def test_two_servers_exchange_direct_messages(template_init_dir: Path, tmp_path: Path, start_server) -> None:
    dirs = []
    for name in ("a", "b"):
        d = tmp_path / name
        shutil.copytree(template_init_dir, d)
        dirs.append(d)
    pa, pb = free_port(), free_port()
    a: ServerProcess = start_server(dirs[0], "--port", str(pa), env=federation_env(pa))
    b: ServerProcess = start_server(dirs[1], "--port", str(pb), env=federation_env(pb))
    async with aiohttp.ClientSession() as http:
        # identity: WebFinger and NodeInfo
        async with http.get(f"{b.base_url}/.well-known/webfinger",
                            params={"resource": f"acct:{ADMIN_USERNAME}@127.0.0.1:{pb}"}) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(f"{b.base_url}/nodeinfo/2.1") as resp:
            assert (await resp.json())["software"]["name"] == "pufferd"
        # resolve each other's admin
        async with http.post(f"{a.base_url}/api/v1/federation/resolve", headers=a.headers(),
                             json={"handle": f"@{ADMIN_USERNAME}@127.0.0.1:{pb}"}) as resp:
            assert resp.status == 200, await resp.text()
            bob_at_a = await resp.json()
        assert bob_at_a["is_remote"] is True and bob_at_a["username"] == f"{ADMIN_USERNAME}@127.0.0.1:{pb}"
        async with http.post(f"{a.base_url}/api/v1/chats", headers=a.headers(),
                             json={"type": "private", "member_ids": [bob_at_a["id"]]}) as resp:
            assert resp.status in (200, 201), await resp.text()
            chat_a = (await resp.json())["id"]

        ws_b = await http.ws_connect(f"{b.base_url}/api/v1/ws", headers=b.headers())
        ws_a = await http.ws_connect(f"{a.base_url}/api/v1/ws", headers=a.headers())
        async with http.post(f"{a.base_url}/api/v1/messages", headers=a.headers(),
                             json={"chat_id": chat_a, "type": "text", "text": "hello from A <b>plain</b>"}) as resp:
            assert resp.status == 201, await resp.text()
            first = await resp.json()
        got = await next_event(ws_b, "message_created", {"text": "hello from A <b>plain</b>"})
        assert got["text"] == "hello from A <b>plain</b>"
        chat_b = got["chat_id"]

        # reply from B reaches A live, as a reply to A's message
        async with http.post(f"{b.base_url}/api/v1/messages", headers=b.headers(),
                             json={"chat_id": chat_b, "type": "text", "text": "hi back",
                                   "reply_to_message_id": got["id"]}) as resp:
            assert resp.status == 201, await resp.text()
        back = await next_event(ws_a, "message_created", {"text": "hi back"})
        assert back["text"] == "hi back" and back["chat_id"] == chat_a
        assert back["reply_to_message_id"] == first["id"]

        # B's outbox lists nothing; A's actor has a key
        async with http.get(f"{b.base_url}/ap/users/1/outbox") as resp:
            assert (await resp.json())["totalItems"] == 0
        await ws_b.close()

        # B is down: A's message waits in the queue and arrives after B restarts
        b.stop()
        async with http.post(f"{a.base_url}/api/v1/messages", headers=a.headers(),
                             json={"chat_id": chat_a, "type": "text", "text": "while you were away"}) as resp:
            assert resp.status == 201, await resp.text()
        await asyncio.sleep(1.5)
        async with http.get(f"{a.base_url}/api/v1/federation/queue", headers=a.headers(),
                            params={"state": "pending"}) as resp:
            assert resp.status == 200
            assert any(r["activity_type"] == "Create" and r["attempts"] >= 1 for r in await resp.json())
        b = start_server(dirs[1], "--port", str(pb), env=federation_env(pb))
        deadline = time.monotonic() + 30
        texts: list[str] = []
        while time.monotonic() < deadline:
            async with http.get(f"{b.base_url}/api/v1/messages/{chat_b}", headers=b.headers()) as resp:
                texts = [m["text"] for m in await resp.json()]
            if "while you were away" in texts:
                break
            await asyncio.sleep(0.3)
        assert "while you were away" in texts, a.log()
        await ws_a.close()


async def test_follows_edits_deletes_reactions_and_attachments_over_the_wire(
        template_init_dir: Path, tmp_path: Path, start_server) -> None:
    dirs = []
    for name in ("a", "b"):
        d = tmp_path / name
        shutil.copytree(template_init_dir, d)
        dirs.append(d)
    pa, pb = free_port(), free_port()
    ttl = 8  # A's Document links expire this soon, so the test sees one expire
    a: ServerProcess = start_server(dirs[0], "--port", str(pa),
                                    env={**federation_env(pa), "PUFFERD_FEDERATION_ATTACHMENT_URL_TTL_SECONDS": str(ttl)})
    b: ServerProcess = start_server(dirs[1], "--port", str(pb),
                                    env={**federation_env(pb), "PUFFERD_FEDERATION_MEDIA_MAX_BYTES": "8000"})
    alice_handle, bob_handle = f"{ADMIN_USERNAME}@127.0.0.1:{pa}", f"{ADMIN_USERNAME}@127.0.0.1:{pb}"
    async with aiohttp.ClientSession() as http:
        async def api(server: ServerProcess, method: str, path: str, expect: int = 200, **kw) -> object:
            async with http.request(method, server.base_url + path, headers=server.headers(), **kw) as resp:
                assert resp.status == expect, (resp.status, await resp.text(), server.log()[-3000:])
                return await resp.json() if resp.status != 204 else None

        bob_at_a = await api(a, "POST", "/api/v1/federation/resolve", json={"handle": "@" + bob_handle})
        chat_a = (await api(a, "POST", "/api/v1/chats", json={"type": "private", "member_ids": [bob_at_a["id"]]}))["id"]
        ws_a = await http.ws_connect(f"{a.base_url}/api/v1/ws", headers=a.headers())
        ws_b = await http.ws_connect(f"{b.base_url}/api/v1/ws", headers=b.headers())

        async def send_file(name: str, data: bytes) -> None:
            ticket = await api(a, "POST", "/api/v1/media/upload-url",
                               json={"file_name": name, "file_type": "image/png", "file_size": len(data)})
            async with http.put(ticket["upload_url"], data=data, headers=ticket["required_headers"]) as resp:
                assert resp.status == 200, await resp.text()
            picture = await api(a, "POST", "/api/v1/messages", 201, json={"chat_id": chat_a, "type": "image"})
            await api(a, "POST", "/api/v1/media/attachments", json={
                "message_id": picture["id"], "file_url": ticket["file_url"], "file_type": "image/png",
                "file_size": len(data)})

        # an attachment: A uploads and attaches a file; B fetches it from A's signed Document link
        # and shows it as an attachment of its own, whose bytes are the original's
        data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16
        await send_file("cat.png", data)
        got = await next_event(ws_b, "message_created", {})
        chat_b = got["chat_id"]
        assert got["type"] == "image" and got["text"] is None, got
        # (attached in the transaction right after the message's: the list may lag it by a moment)
        files = await until(lambda: api(b, "GET", f"/api/v1/media/chats/{chat_b}/attachments"))
        assert [(f["message_id"], f["file_type"], f["file_size"]) for f in files] == [
            (got["id"], "image/png", len(data))], files
        assert files[0]["file_url"].startswith(b.base_url + "/media/bucket/uploads/")
        async with http.get(files[0]["file_url"], headers=b.headers()) as resp:
            assert resp.status == 200 and await resp.read() == data
            assert resp.headers["Content-Type"] == "image/png"
        signed = await api(b, "POST", "/api/v1/media/download-url", json={"file_url": files[0]["file_url"]})
        async with http.get(signed["download_url"]) as resp:
            assert resp.status == 200 and await resp.read() == data

        # a file larger than B fetches (federation_media_max_bytes) stays a link in the text
        big = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
        await send_file("big.png", big)
        got = await next_event(ws_b, "message_created", {})
        assert got["chat_id"] == chat_b and got["type"] == "text", got
        assert got["text"].startswith("big.png (http://127.0.0.1:") and got["text"].endswith(")"), got
        assert len(await api(b, "GET", f"/api/v1/media/chats/{chat_b}/attachments")) == 1
        link = got["text"][len("big.png ("):-1]
        data = big
        async with http.get(link) as resp:  # no credential but the link
            assert resp.status == 200 and await resp.read() == data
        altered = link.replace("sig=", "sig=A") if "sig=A" not in link else link.replace("sig=A", "sig=B")
        async with http.get(altered) as resp:
            assert resp.status == 403
        async with http.get(link.split("?")[0]) as resp:
            assert resp.status == 401
        expires = int(link.split("exp=")[1].split("&")[0])

        # follows: each follows the other; both sides list them, accepted
        assert (await api(a, "POST", "/api/v1/federation/follow", json={"handle": bob_handle}))["state"] == "pending"
        await api(b, "POST", "/api/v1/federation/follow", json={"handle": alice_handle})

        async def listed(server: ServerProcess, kind: str, handle: str) -> bool:
            rows = await api(server, "GET", f"/api/v1/federation/{kind}")
            return any(r["user"]["username"] == handle and r["state"] == "accepted" for r in rows)
        for server, kind, handle in ((a, "following", bob_handle), (b, "followers", alice_handle),
                                     (b, "following", alice_handle), (a, "followers", bob_handle)):
            assert await until(lambda s=server, k=kind, h=handle: listed(s, k, h)), (kind, a.log()[-2000:])
        # A unfollows: gone on both sides
        await api(a, "POST", "/api/v1/federation/unfollow", json={"handle": bob_handle})
        assert await api(a, "GET", "/api/v1/federation/following") == []

        async def no_followers_at_b() -> bool:
            return not await listed(b, "followers", alice_handle)
        assert await until(no_followers_at_b)

        # an edit and a delete for everyone appear live on the other side
        sent = await api(a, "POST", "/api/v1/messages", 201, json={"chat_id": chat_a, "type": "text", "text": "draft"})
        there = await next_event(ws_b, "message_created", {"text": "draft"})
        await api(a, "PUT", f"/api/v1/messages/{sent['id']}", json={"text": "final"})
        assert (await next_event(ws_b, "message_updated", {"id": there["id"]}))["text"] == "final"
        await api(a, "DELETE", f"/api/v1/messages/{sent['id']}", 204, params={"for_all": "true"})
        await next_event(ws_b, "message_deleted", {"message_id": there["id"], "chat_id": chat_b})
        history = await api(b, "GET", f"/api/v1/messages/{chat_b}")
        assert there["id"] not in [m["id"] for m in history]

        # reactions both ways, live, and taken back
        keep = await api(a, "POST", "/api/v1/messages", 201, json={"chat_id": chat_a, "type": "text", "text": "keep"})
        keep_b = await next_event(ws_b, "message_created", {"text": "keep"})
        await api(b, "POST", f"/api/v1/messages/{keep_b['id']}/reactions/toggle", json={"emoji": "👍"})
        seen = await next_event(ws_a, "reactions_updated", {"message_id": keep["id"], "emoji": "👍"})
        assert seen["reacted"] is True and seen["user_id"] == bob_at_a["id"]
        await api(a, "POST", f"/api/v1/messages/{keep['id']}/reactions/toggle", json={"emoji": "❤️"})
        seen = await next_event(ws_b, "reactions_updated", {"message_id": keep_b["id"], "emoji": "❤️"})
        assert seen["reacted"] is True
        await api(b, "POST", f"/api/v1/messages/{keep_b['id']}/reactions/toggle", json={"emoji": "👍"})
        assert (await next_event(ws_a, "reactions_updated", {"message_id": keep["id"], "emoji": "👍"}))["reacted"] is False
        assert await api(a, "GET", f"/api/v1/messages/{keep['id']}/reactions") == [
            {"emoji": "❤️", "count": 1, "reacted": True}]

        # B still follows A; A blocks B's user: the follow ends on both sides
        await api(a, "POST", f"/api/v1/users/{bob_at_a['id']}/block", 204)

        async def b_follows_nobody() -> bool:
            return await api(b, "GET", "/api/v1/federation/following") == []
        assert await until(b_follows_nobody), b.log()[-2000:]
        assert await api(a, "GET", "/api/v1/federation/followers") == []

        # the attachment link has expired by now (or soon)
        await asyncio.sleep(max(0.0, expires + 1.5 - time.time()))
        async with http.get(link) as resp:
            assert resp.status == 403 and "expired" in (await resp.json())["detail"]
        await ws_a.close()
        await ws_b.close()


def _inbox_posts(metrics: str) -> dict[str, float]:
    """POSTs answered 202 per inbox route template, from /metrics."""
    out = {"/ap/inbox": 0.0, "/ap/users/{user_id}/inbox": 0.0}
    for line in metrics.splitlines():
        for route in out:
            if line.startswith("pufferd_http_requests_total{") and 'method="POST"' in line \
                    and f'route="{route}"' in line and 'status="202"' in line:
                out[route] += float(line.rsplit(" ", 1)[1])
    return out


async def test_a_profile_update_reaches_followers_on_two_servers_once_per_shared_inbox(
        template_init_dir: Path, tmp_path: Path, start_server) -> None:
    """A's user has two followers on B and one on C: a profile change arrives at B's shared inbox
    once (one POST for both), at C's follower's inbox once, and both servers show the new name and
    a copy of the new avatar. All three run with authorized fetch: every actor fetch between them
    is a signed GET the other verifies (an unsigned one is refused)."""
    dirs = []
    for name in ("a", "b", "c"):
        d = tmp_path / name
        shutil.copytree(template_init_dir, d)
        dirs.append(d)
    ports = [free_port() for _ in dirs]
    a, b, c = (start_server(d, "--port", str(p), env={**federation_env(p), "PUFFERD_FEDERATION_AUTHORIZED_FETCH": "1"})
               for d, p in zip(dirs, ports, strict=True))
    alice_handle = f"{ADMIN_USERNAME}@127.0.0.1:{ports[0]}"
    async with aiohttp.ClientSession() as http:
        async def api(server: ServerProcess, method: str, path: str, expect: int = 200, user: int = 1,
                      **kw) -> object:
            async with http.request(method, server.base_url + path, headers=server.headers(user), **kw) as resp:
                assert resp.status == expect, (resp.status, await resp.text(), server.log()[-3000:])
                return await resp.json() if resp.status != 204 else None

        async with http.post(f"{b.base_url}/api/v1/auth/register", json={
                "email": "bea@example.com", "username": "bea", "name": "Bea", "password": "bea-password-1"}) as resp:
            assert resp.status == 201, await resp.text()
        bea = 2  # the second account of a fresh data directory
        assert (await api(b, "GET", "/api/v1/users/me", user=bea))["username"] == "bea"
        async with http.get(f"{a.base_url}/ap/users/1") as resp:
            assert resp.status == 401, await resp.text()  # unsigned
        for server, user in ((b, 1), (b, bea), (c, 1)):
            await api(server, "POST", "/api/v1/federation/follow", user=user, json={"handle": alice_handle})

        async def settled() -> bool:
            """A has its three accepted followers and no server has a delivery left."""
            followers = await api(a, "GET", "/api/v1/federation/followers")
            if sorted(f["state"] for f in followers) != ["accepted"] * 3:
                return False
            for server in (a, b, c):
                if await api(server, "GET", "/api/v1/federation/queue", params={"state": "pending"}):
                    return False
            return True
        assert await until(settled), a.log()[-3000:]

        async def inbox_posts(server: ServerProcess) -> dict[str, float]:
            async with http.get(server.base_url + "/metrics") as resp:
                assert resp.status == 200, await resp.text()
                return _inbox_posts(await resp.text())
        before = {"b": await inbox_posts(b), "c": await inbox_posts(c)}

        # a new name, bio and avatar: B and C show them, the avatar as a copy each keeps itself
        picture = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
        ticket = await api(a, "POST", "/api/v1/media/upload-url",
                           json={"file_name": "me.png", "file_type": "image/png", "file_size": len(picture)})
        async with http.put(ticket["upload_url"], data=picture, headers=ticket["required_headers"]) as resp:
            assert resp.status == 200, await resp.text()
        await api(a, "PUT", "/api/v1/users/profile", json={"name": "Alice Renamed", "bio": "new bio",
                                                             "avatar_url": ticket["file_url"]})
        for server in (b, c):
            [alice_there] = [f["user"] for f in await api(server, "GET", "/api/v1/federation/following")]

            async def renamed(s: ServerProcess = server, uid: int = alice_there["id"]) -> bool:
                got = await api(s, "GET", f"/api/v1/users/{uid}")
                return (got["name"], got["bio"], got["avatar_url"] is not None) == ("Alice Renamed", "new bio", True)
            assert await until(renamed), server.log()[-3000:]
            avatar = (await api(server, "GET", f"/api/v1/users/{alice_there['id']}"))["avatar_url"]
            assert avatar.startswith(f"{server.base_url}/media/bucket/uploads/"), avatar
            async with http.get(avatar, headers=server.headers()) as resp:
                assert resp.status == 200 and await resp.read() == picture
        assert await until(settled)
        updates = [r for r in await api(a, "GET", "/api/v1/federation/queue") if r["activity_type"] == "Update"]
        assert len(updates) == 3 and {r["state"] for r in updates} == {"delivered"}
        assert len({r["activity_id"] for r in updates}) == 1  # one activity for the three followers

        after = {"b": await inbox_posts(b), "c": await inbox_posts(c)}
        delta = {name: {route: after[name][route] - before[name][route] for route in after[name]} for name in after}
        assert delta == {"b": {"/ap/inbox": 1.0, "/ap/users/{user_id}/inbox": 0.0},
                         "c": {"/ap/inbox": 0.0, "/ap/users/{user_id}/inbox": 1.0}}, delta
