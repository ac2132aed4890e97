"""The life of uploaded files: expiry of upload and download URLs, the janitor removing uploads
never attached, references dropped when messages go, shared blobs, crash recovery and the blob
integrity check `pufferd doctor` runs. The clock is fake, so nothing here sleeps for expiry."""
from __future__ import annotations

import asyncio
import hashlib
import os
import time

import pytest
from media_helpers import (
    attach,
    blob_files,
    download,
    local,
    make_group,
    png,
    put,
    rows,
    send,
    temp_files,
    ticket,
    upload,
)

from pufferd import doctor, media
from pufferd.blobs import LocalBlobStore
from pufferd.clock import FakeClock
from pufferd.db.database import open_connection
from pufferd.keys import Keys, db_key_hex
from pufferd.web.keys import CTX

DAY = 24 * 3600


@pytest.fixture
def settings_overrides():
    # tokens outlive the clock jumps below; the janitor runs often so its task is exercised too
    return {"access_token_ttl_seconds": 30 * DAY, "media_janitor_interval_seconds": 0.05}


@pytest.fixture
def clock():
    return FakeClock(time.time())



async def collect(client) -> media.Collected:
    return await media.collect_garbage(client.app[CTX])


async def objects(client) -> list[str]:
    return [r["object_key"] for r in await rows(client, "SELECT object_key FROM media_objects ORDER BY object_key")]


async def test_expired_upload_url_is_403_and_stores_nothing(client, alice, clock, data_dir):
    data = png(1000)
    t = await ticket(client, alice, size=len(data))
    clock.advance(901)
    resp = await put(client, t, data)
    assert resp.status == 403
    assert (await resp.json())["detail"] == "Upload URL has expired"
    assert blob_files(data_dir) == [] and temp_files(data_dir) == []


async def test_upload_url_being_used_cannot_be_used_again(client, alice):
    t = await ticket(client, alice, size=100)
    await client.app[CTX].db.write(lambda c: c.execute(
        "UPDATE media_objects SET state = 'uploading' WHERE object_key = ?", (t["object_key"],)))
    resp = await put(client, t, png(100))
    assert resp.status == 403
    assert (await resp.json())["detail"] == "Upload URL has already been used"


async def test_expired_signed_download_url_is_403(client, alice, clock):
    t = await upload(client, alice, png(100))
    resp = await client.post("/api/v1/media/download-url", json={"file_url": t["file_url"]}, headers=alice.headers)
    url = (await resp.json())["download_url"]
    assert (await client.get(local(url))).status == 200
    clock.advance(301)
    resp = await client.get(local(url))
    assert resp.status == 403
    assert (await resp.json())["detail"] == "Download URL has expired"


async def test_revoking_all_sessions_ends_earlier_signed_download_urls(client, alice, clock):
    t = await upload(client, alice, png(100))
    resp = await client.post("/api/v1/media/download-url", json={"file_url": t["file_url"]}, headers=alice.headers)
    url = (await resp.json())["download_url"]
    clock.advance(2)
    assert (await client.delete("/api/v1/auth/sessions", headers=alice.headers)).status == 204
    resp = await client.get(local(url))
    assert resp.status == 403
    assert (await resp.json())["detail"] == "Download URL is no longer valid"


async def test_unused_upload_urls_are_removed_once_expired(client, alice, clock):
    t = await ticket(client, alice, size=100)
    await collect(client)
    assert await objects(client) == [t["object_key"]]
    clock.advance(901)
    await collect(client)
    assert await objects(client) == []


async def test_an_upload_in_progress_outlives_its_url_but_not_by_a_day(client, alice, clock):
    t = await ticket(client, alice, size=100)
    await client.app[CTX].db.write(lambda c: c.execute(
        "UPDATE media_objects SET state = 'uploading' WHERE object_key = ?", (t["object_key"],)))
    clock.advance(901)
    await collect(client)
    assert await objects(client) == [t["object_key"]]
    clock.advance(DAY)
    await collect(client)
    assert await objects(client) == []


async def test_upload_never_attached_is_removed_after_the_ttl(client, alice, bob, clock, settings, data_dir):
    chat_id = await make_group(client, alice, bob)
    kept = await upload(client, alice, png(3000))
    await attach(client, alice, await send(client, alice, chat_id), kept)
    dropped = await upload(client, alice, png(3000))
    clock.advance(settings.unattached_upload_ttl_seconds - 10)
    await collect(client)
    assert sorted(await objects(client)) == sorted([kept["object_key"], dropped["object_key"]])
    clock.advance(20)
    await collect(client)
    assert await objects(client) == [kept["object_key"]]
    assert len(blob_files(data_dir)) == 1
    assert (await download(client, alice, dropped)).status == 404
    assert (await download(client, bob, kept)).status == 200


async def test_an_avatar_in_use_does_not_expire(client, alice, clock, settings, data_dir):
    t = await upload(client, alice, png(1000))
    resp = await client.put("/api/v1/users/profile", json={"avatar_url": t["file_url"]}, headers=alice.headers)
    assert resp.status == 200, await resp.text()
    clock.advance(settings.unattached_upload_ttl_seconds + 10)
    await collect(client)
    assert await objects(client) == [t["object_key"]]
    assert (await download(client, alice, t)).status == 200
    await client.put("/api/v1/users/profile", json={"avatar_url": None}, headers=alice.headers)
    await collect(client)
    assert await objects(client) == [] and blob_files(data_dir) == []


async def test_deleting_a_message_for_all_drops_its_file(client, alice, bob, data_dir):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id)
    t = await upload(client, alice, png(5000))
    await attach(client, alice, message_id, t)
    resp = await client.delete(f"/api/v1/messages/{message_id}", params={"for_all": "true"}, headers=alice.headers)
    assert resp.status == 204
    assert await objects(client) == []
    assert await rows(client, "SELECT refs FROM media_blobs") == [{"refs": 0}]
    await collect(client)
    assert blob_files(data_dir) == []
    assert await rows(client, "SELECT * FROM media_blobs") == []
    assert (await download(client, alice, t)).status == 404


async def test_forwarded_file_lives_until_its_last_message_goes(client, alice, bob, carol, data_dir):
    first = await make_group(client, alice, bob)
    second = await make_group(client, alice, carol)
    message_id = await send(client, alice, first)
    t = await upload(client, alice, png(5000))
    await attach(client, alice, message_id, t)
    resp = await client.post(f"/api/v1/messages/{message_id}/forward", json={"target_chat_id": second},
                             headers=alice.headers)
    assert resp.status == 201, await resp.text()
    copy_id = (await resp.json())["id"]
    assert (await download(client, carol, t)).status == 200
    assert (await client.delete(f"/api/v1/messages/{message_id}", params={"for_all": "true"},
                                headers=alice.headers)).status == 204
    await collect(client)
    assert await objects(client) == [t["object_key"]]
    assert (await download(client, bob, t)).status == 404
    assert (await download(client, carol, t)).status == 200
    assert (await client.delete(f"/api/v1/messages/{copy_id}", params={"for_all": "true"},
                                headers=alice.headers)).status == 204
    await collect(client)
    assert await objects(client) == [] and blob_files(data_dir) == []


async def test_shared_blob_is_deleted_with_its_last_reference(client, alice, bob, clock, settings, data_dir):
    chat_id = await make_group(client, alice, bob)
    data = png(20_000)
    a = await upload(client, alice, data)            # never attached
    b = await upload(client, bob, data)              # attached
    message_id = await send(client, bob, chat_id)
    await attach(client, bob, message_id, b)
    assert await rows(client, "SELECT refs FROM media_blobs") == [{"refs": 2}]
    clock.advance(settings.unattached_upload_ttl_seconds + 1)
    await collect(client)
    assert await objects(client) == [b["object_key"]]
    assert await rows(client, "SELECT refs FROM media_blobs") == [{"refs": 1}]
    assert len(blob_files(data_dir)) == 1
    assert (await download(client, alice, a)).status == 404
    assert await (await download(client, alice, b)).read() == data
    await client.delete(f"/api/v1/messages/{message_id}", params={"for_all": "true"}, headers=bob.headers)
    await collect(client)
    assert blob_files(data_dir) == [] and await rows(client, "SELECT * FROM media_blobs") == []


async def test_deleting_a_chat_drops_its_files(client, alice, bob, data_dir):
    chat_id = await make_group(client, alice, bob)
    t = await upload(client, alice, png(100))
    await attach(client, alice, await send(client, alice, chat_id), t)
    resp = await client.delete(f"/api/v1/chats/{chat_id}", params={"for_all": "true"}, headers=alice.headers)
    assert resp.status == 204, await resp.text()
    await collect(client)
    assert await objects(client) == [] and blob_files(data_dir) == []


async def test_janitor_task_runs_in_the_background(client, alice, clock):
    await ticket(client, alice, size=100)
    clock.advance(901)
    for _ in range(100):
        if not await objects(client):
            break
        await asyncio.sleep(0.05)
    assert await objects(client) == []


async def test_start_up_removes_crash_leftovers(client, alice, data_dir):
    ctx = client.app[CTX]
    stuck = await ticket(client, alice, size=100)
    await ctx.db.write(lambda c: c.execute("UPDATE media_objects SET state = 'uploading' WHERE object_key = ?",
                                           (stuck["object_key"],)))
    (data_dir / "blobs" / "tmp" / "deadbeef.part").write_bytes(b"half a file")
    w = ctx.blobs.writer()
    await w.write(b"written, but the row never committed")
    info = await w.commit()
    assert len(blob_files(data_dir)) == 1
    await media.recover(ctx)
    assert temp_files(data_dir) == []
    assert blob_files(data_dir) == []
    assert not await ctx.blobs.exists(info.sha256)
    state = await rows(client, "SELECT state FROM media_objects WHERE object_key = ?", stuck["object_key"])
    assert state == [{"state": "pending"}]
    assert (await put(client, stuck, png(100))).status == 200


async def test_verify_blobs_authenticates_every_chunk(client, alice, settings, data_dir):
    good = await upload(client, alice, png(200_000))
    bad = await upload(client, alice, png(200_000))
    gone = await upload(client, alice, png(1000))
    digests = {}
    for t in (good, bad, gone):
        digests[t["object_key"]] = (await rows(client, "SELECT sha256 FROM media_objects WHERE object_key = ?",
                                               t["object_key"]))[0]["sha256"]
    ctx = client.app[CTX]
    paths = {p.name: p for p in blob_files(data_dir)}
    raw = bytearray(paths[digests[bad["object_key"]]].read_bytes())
    raw[100_000] ^= 0x40
    paths[digests[bad["object_key"]]].write_bytes(bytes(raw))
    paths[digests[gone["object_key"]]].unlink()
    w = ctx.blobs.writer()
    await w.write(b"an orphan")
    orphan = await w.commit()

    keys = Keys.load(settings.keys_dir)
    conn = open_connection(settings.db_path, db_key_hex(settings.keys_dir, None))
    try:
        store = LocalBlobStore(settings.blobs_dir, keys.derive("blob encryption"))
        report = await asyncio.to_thread(media.verify_blobs, store, conn)
    finally:
        conn.close()
    assert not report.ok
    assert report.checked == 1 and report.bytes == 200_000
    assert report.missing == [digests[gone["object_key"]]]
    assert len(report.corrupt) == 1 and report.corrupt[0].startswith(digests[bad["object_key"]])
    assert "does not authenticate" in report.corrupt[0]
    assert report.orphans == [orphan.sha256]
    assert hashlib.sha256(b"an orphan").hexdigest() == orphan.sha256
    resp = await download(client, alice, gone)
    assert resp.status == 503
    assert os.path.exists(paths[digests[good["object_key"]]])


async def test_doctor_checks_blob_integrity(client, alice, data_dir):
    t = await upload(client, alice, png(150_000))
    results = {r.name: r for r in await asyncio.to_thread(doctor.run, data_dir)}
    assert results["blobs"].status == "ok", results["blobs"]
    assert results["blobs"].detail.startswith("1 blobs (146.5 KiB) authenticate")
    digest = (await rows(client, "SELECT sha256 FROM media_objects WHERE object_key = ?",
                         t["object_key"]))[0]["sha256"]
    [path] = [p for p in blob_files(data_dir) if p.name == digest]
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 1
    path.write_bytes(bytes(raw))
    results = {r.name: r for r in await asyncio.to_thread(doctor.run, data_dir)}
    assert results["blobs"].status == "FAIL"
    assert "1 corrupt" in results["blobs"].detail and digest in results["blobs"].detail
