"""Media over real HTTP (API reference 3.5 and 9, CONTRACT.md "Uploads"): upload URLs, the signed
PUT, attachments, the chat attachment list and downloads with ranges and conditional requests."""
from __future__ import annotations

import hashlib
import os
import re
from urllib.parse import parse_qs, urlsplit

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
from text_helpers import BLANK, CONTROLS, ONE_LINE_ONLY, TYPED, names_field, nfc
from yarl import URL

from pufferd.web.keys import CTX

KEY_RE = re.compile(r"^uploads/[A-Za-z0-9_-]{32}\.png$")


# upload URLs ---------------------------------------------------------------------------------

async def test_upload_url_is_signed_absolute_and_expires_in_900(client, alice, settings):
    t = await ticket(client, alice, size=1234, name="holiday photo.png")
    assert KEY_RE.match(t["object_key"]), t
    assert t["file_url"] == f"{settings.base_url}/media/bucket/{t['object_key']}"
    assert t["upload_url"].startswith(t["file_url"] + "?")
    query = parse_qs(urlsplit(t["upload_url"]).query)
    assert set(query) == {"exp", "sig"}
    assert t["expires_in"] == 900
    assert t["required_headers"] == {"Content-Type": "image/png"}
    stored = await rows(client, "SELECT * FROM media_objects WHERE object_key = ?", t["object_key"])
    assert stored[0]["state"] == "pending" and stored[0]["uploader_id"] == alice.id
    assert stored[0]["file_name"] == "holiday photo.png" and stored[0]["file_size"] == 1234


async def test_upload_url_key_extension_follows_the_type_not_the_name(client, alice):
    t = await ticket(client, alice, size=10, file_type="audio/mpeg", name="song.exe")
    assert t["object_key"].endswith(".mp3")


@pytest.mark.parametrize("file_type", ["image/gif", "text/html", "image/svg+xml", "application/octet-stream", ""])
async def test_upload_url_refuses_mime_outside_allow_list(client, alice, file_type):
    body = await ticket(client, alice, size=10, file_type=file_type, expect=422)
    assert body["detail"][0]["loc"] == ["body", "file_type"]


async def test_upload_url_refuses_size_over_max_upload_size(client, alice, settings):
    body = await ticket(client, alice, size=settings.max_upload_size_bytes + 1, expect=422)
    assert body["detail"][0]["loc"] == ["body", "file_size"]
    assert str(settings.max_upload_size_bytes) in body["detail"][0]["msg"]
    await ticket(client, alice, size=settings.max_upload_size_bytes)
    for bad in (0, -1, "ten"):
        body = await ticket(client, alice, size=bad, expect=422)
        assert body["detail"][0]["loc"] == ["body", "file_size"]


async def test_upload_url_refuses_bad_file_names(client, alice):
    for bad in ("", "a\x00b.png", "bad\nname.png", "x" * 256, "/", ".."):
        body = await ticket(client, alice, size=10, name=bad, expect=422)
        assert body["detail"][0]["loc"] == ["body", "file_name"], bad
    t = await ticket(client, alice, size=10, name="C:\\Users\\me\\cat.png")
    got = await rows(client, "SELECT file_name FROM media_objects WHERE object_key = ?", t["object_key"])
    assert got[0]["file_name"] == "cat.png"


async def test_upload_url_accepts_file_names_people_type(client, alice):
    for typed in TYPED:
        t = await ticket(client, alice, size=10, name=f"C:\\Fotos\\{typed}.png")
        got = await rows(client, "SELECT file_name FROM media_objects WHERE object_key = ?", t["object_key"])
        assert got[0]["file_name"] == nfc(f"{typed}.png"), typed


async def test_a_file_name_people_type_comes_back_in_content_disposition(client, alice):
    data = png()
    t = await upload(client, alice, data, name="👨\u200d👩\u200d👧 Rene\u0301e.png")
    resp = await download(client, alice, t)
    assert resp.status == 200 and await resp.read() == data
    assert resp.headers["Content-Disposition"] == (
        "inline; filename=\"_____ Ren_e.png\"; "
        "filename*=UTF-8''%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7%20Ren%C3%A9e.png")


async def test_upload_url_refuses_controls_bidi_and_blank_file_names_and_stores_nothing(client, alice):
    before = await rows(client, "SELECT COUNT(*) AS n FROM media_objects")
    cases = [*CONTROLS, *ONE_LINE_ONLY, *((blank, "must not be empty") for blank in BLANK),
             ("photos/\u200b", "must not be empty")]
    for value, named in cases:
        body = await ticket(client, alice, size=10, name=value, expect=422)
        assert names_field(body, "file_name", named), (value, body)
    assert await rows(client, "SELECT COUNT(*) AS n FROM media_objects") == before


async def test_upload_url_needs_a_token(client):
    resp = await client.post("/api/v1/media/upload-url", json={"file_name": "a.png", "file_type": "image/png",
                                                               "file_size": 1})
    assert resp.status == 401


# the signed PUT ------------------------------------------------------------------------------

async def test_put_stores_the_file_once_and_answers_the_object(client, alice, data_dir):
    data = png(200_000)
    t = await ticket(client, alice, size=len(data))
    resp = await put(client, t, data)
    body = await resp.json()
    assert resp.status == 200, body
    assert body == {"object_key": t["object_key"], "file_url": t["file_url"], "file_type": "image/png",
                    "file_size": len(data)}
    digest = hashlib.sha256(data).hexdigest()
    assert resp.headers["ETag"] == f'"{digest}"'
    assert [p.name for p in blob_files(data_dir)] == [digest]
    assert temp_files(data_dir) == []
    obj = (await rows(client, "SELECT state, sha256 FROM media_objects WHERE object_key = ?", t["object_key"]))[0]
    assert obj == {"state": "stored", "sha256": digest}


async def _nothing_stored(client, data_dir, key: str) -> None:
    assert blob_files(data_dir) == []
    assert temp_files(data_dir) == []
    assert await rows(client, "SELECT * FROM media_blobs") == []
    state = await rows(client, "SELECT state FROM media_objects WHERE object_key = ?", key)
    assert state == [{"state": "pending"}]


async def test_put_with_tampered_signature_is_403_and_stores_nothing(client, alice, data_dir):
    data = png(1000)
    t = await ticket(client, alice, size=len(data))
    url = URL(local(t["upload_url"]))
    exp, sig = url.query["exp"], url.query["sig"]
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    for query in ({"exp": exp, "sig": flipped}, {"exp": str(int(exp) + 3600), "sig": sig}, {"exp": exp},
                  {"sig": sig}, {}, {"exp": "soon", "sig": sig}):
        resp = await client.put(url.with_query(query), data=data, headers=t["required_headers"])
        assert resp.status == 403, (query, await resp.text())
        assert "detail" in await resp.json()
    await _nothing_stored(client, data_dir, t["object_key"])
    # the genuine URL still works afterwards
    assert (await put(client, t, data)).status == 200


async def test_put_signature_of_another_key_is_403(client, alice):
    a = await ticket(client, alice, size=100)
    b = await ticket(client, alice, size=100)
    sig_a = URL(local(a["upload_url"])).query["sig"]
    url_b = URL(local(b["upload_url"]))
    resp = await client.put(url_b.with_query({"exp": url_b.query["exp"], "sig": sig_a}), data=png(100),
                            headers=b["required_headers"])
    assert resp.status == 403


async def test_put_reused_url_is_403(client, alice):
    data = png(500)
    t = await ticket(client, alice, size=len(data))
    assert (await put(client, t, data)).status == 200
    resp = await put(client, t, data)
    assert resp.status == 403
    assert (await resp.json())["detail"] == "Upload URL has already been used"


async def test_put_with_other_content_type_is_400_and_stores_nothing(client, alice, data_dir):
    data = png(500)
    t = await ticket(client, alice, size=len(data))
    for ct in ("image/jpeg", "application/octet-stream", "text/html"):
        resp = await put(client, t, data, content_type=ct)
        assert resp.status == 400, await resp.text()
        assert "image/png" in (await resp.json())["detail"]
    await _nothing_stored(client, data_dir, t["object_key"])
    assert (await put(client, t, data, content_type="image/png; charset=binary")).status == 200


async def test_put_body_longer_than_signed_is_413_and_shorter_is_400(client, alice, data_dir):
    data = png(5000)
    t = await ticket(client, alice, size=len(data))
    resp = await put(client, t, data + b"x")
    assert resp.status == 413, await resp.text()
    resp = await put(client, t, data[:-1])
    assert resp.status == 400, await resp.text()
    assert "smaller" in (await resp.json())["detail"]
    await _nothing_stored(client, data_dir, t["object_key"])


async def test_put_chunked_body_of_wrong_length_stores_nothing(client, alice, data_dir):
    data = png(300_000)
    t = await ticket(client, alice, size=len(data))

    def chunks(payload: bytes):
        async def gen():
            for i in range(0, len(payload), 65536):
                yield payload[i:i + 65536]
        return gen()

    resp = await put(client, t, chunks(data + os.urandom(70_000)))
    assert resp.status == 413, await resp.text()
    resp = await put(client, t, chunks(data[:-70_000]))
    assert resp.status == 400, await resp.text()
    await _nothing_stored(client, data_dir, t["object_key"])
    resp = await put(client, t, chunks(data))
    assert resp.status == 200, await resp.text()


async def test_put_bytes_not_matching_the_type_is_422(client, alice, data_dir):
    data = png(3000)
    t = await ticket(client, alice, size=len(data), file_type="image/jpeg", name="fake.jpg")
    resp = await put(client, t, data)
    assert resp.status == 422
    detail = (await resp.json())["detail"]
    assert "image/jpeg" in detail and "looks like image/png" in detail
    await _nothing_stored(client, data_dir, t["object_key"])
    tiny = await ticket(client, alice, size=2)
    assert (await put(client, tiny, b"\x89P")).status == 422
    pdf = b"%PDF-1.7\n" + os.urandom(100)
    ok = await ticket(client, alice, size=len(pdf), file_type="application/pdf", name="doc.pdf")
    assert (await put(client, ok, pdf)).status == 200


async def test_put_get_head_on_unknown_keys_are_404(client, alice):
    missing = "/media/bucket/uploads/" + "A" * 32 + ".png"
    assert (await client.put(missing + "?exp=1&sig=x", data=b"x", headers={"Content-Type": "image/png"})).status == 404
    assert (await client.get(missing, headers=alice.headers)).status == 404
    assert (await client.head(missing, headers=alice.headers)).status == 404


@pytest.mark.parametrize("path", [
    "/media/bucket/uploads/..%2F..%2Fkeys%2Fmaster.key",
    "/media/bucket/uploads/%2E%2E%2F%2E%2E%2Fpufferd.toml",
    "/media/bucket/uploads/../../keys/master.key",
    "/media/bucket/uploads/....png",
    "/media/bucket/uploads/" + "A" * 32 + ".png%00.txt",
    "/media/bucket/uploads/" + "A" * 31 + "%2F.png",
    "/media/bucket/tmp/" + "A" * 32 + ".png",
    "/media/bucket/uploads/" + "A" * 32 + ".html",
])
async def test_path_traversal_in_keys_is_404(client, alice, path):
    url = URL(path, encoded=True)
    for method in ("GET", "HEAD", "PUT"):
        resp = await client.request(method, url, headers={**alice.headers, "Content-Type": "image/png"}, data=b"x")
        assert resp.status == 404, (method, path, resp.status)


# the whole flow ------------------------------------------------------------------------------

async def test_full_flow_upload_attach_list_download(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id, "voice")
    data = b"OggS" + os.urandom(150_000)
    t = await upload(client, alice, data, file_type="audio/ogg", name="voice note.ogg")
    body = await attach(client, alice, message_id, t, waveform_points=[4, 7, 10, 9, 6])
    assert body == {"id": body["id"], "message_id": message_id, "file_url": t["file_url"],
                    "file_type": "audio/ogg", "file_size": len(data), "waveform_points": [4, 7, 10, 9, 6]}

    history = await client.get(f"/api/v1/messages/{chat_id}", headers=bob.headers)
    [msg] = [m for m in await history.json() if m["id"] == message_id]
    assert msg["attachment_waveform"] == [4, 7, 10, 9, 6]

    listing = await client.get(f"/api/v1/media/chats/{chat_id}/attachments", headers=bob.headers)
    assert listing.status == 200
    [item] = await listing.json()
    assert item["id"] == body["id"] and item["message_id"] == message_id and item["sender_id"] == alice.id
    assert item["message_type"] == "voice" and item["file_url"] == t["file_url"]
    assert item["file_type"] == "audio/ogg" and item["file_size"] == len(data)
    assert item["message_created_at"].endswith("Z")

    resp = await download(client, bob, t)
    assert resp.status == 200
    assert await resp.read() == data
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    assert resp.headers["ETag"] == etag
    assert resp.headers["Content-Type"] == "audio/ogg"
    assert resp.headers["Content-Length"] == str(len(data))
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Content-Disposition"] == \
        "inline; filename=\"voice note.ogg\"; filename*=UTF-8''voice%20note.ogg"

    part = await download(client, bob, t, Range="bytes=100-199")
    assert part.status == 206
    assert await part.read() == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert part.headers["Content-Length"] == "100"

    beyond = await download(client, bob, t, Range=f"bytes={len(data)}-")
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"

    same = await download(client, bob, t, If_None_Match=etag)
    assert same.status == 304
    assert await same.read() == b""
    assert same.headers["ETag"] == etag


async def test_attaching_a_waveform_publishes_message_updated(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id, "voice")
    seen = []
    client.app[CTX].bus.subscribe(seen.append)
    await attach(client, alice, message_id, await upload(client, alice, png(100)))   # no waveform: no change
    assert [e for e in seen if e.type == "message_updated"] == []
    await attach(client, alice, message_id, await upload(client, alice, png(100)), waveform_points=[1, 2, 3])
    updated = [e for e in seen if e.type == "message_updated"]
    assert {uid for e in updated for uid in e.user_ids} == {alice.id, bob.id}
    assert all(e.data["id"] == message_id and e.data["attachment_waveform"] == [1, 2, 3] for e in updated)


# downloads -----------------------------------------------------------------------------------

async def test_range_forms(client, alice):
    data = png(300_000)
    t = await upload(client, alice, data)
    n = len(data)
    cases = {
        "bytes=0-0": (206, data[:1], f"bytes 0-0/{n}"),
        "bytes=-500": (206, data[-500:], f"bytes {n - 500}-{n - 1}/{n}"),
        f"bytes=-{n + 10}": (206, data, f"bytes 0-{n - 1}/{n}"),
        "bytes=299990-": (206, data[299990:], f"bytes 299990-{n - 1}/{n}"),
        f"bytes=65530-{n + 100}": (206, data[65530:], f"bytes 65530-{n - 1}/{n}"),
        "bytes=0-10, 20-30": (200, data, None),   # several ranges: the whole file
        "bytes=10-5": (200, data, None),          # invalid: ignored
        "items=0-5": (200, data, None),
    }
    for header, (status, body, content_range) in cases.items():
        resp = await download(client, alice, t, Range=header)
        assert resp.status == status, header
        assert await resp.read() == body, header
        assert resp.headers.get("Content-Range") == content_range, header
    for header in ("bytes=-0", f"bytes={n}-{n + 5}"):
        assert (await download(client, alice, t, Range=header)).status == 416


async def test_if_range_and_if_none_match(client, alice):
    data = png(10_000)
    t = await upload(client, alice, data)
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    assert (await download(client, alice, t, Range="bytes=0-9", If_Range=etag)).status == 206
    stale = await download(client, alice, t, Range="bytes=0-9", If_Range='"other"')
    assert stale.status == 200 and await stale.read() == data
    assert (await download(client, alice, t, If_None_Match=f'"x", W/{etag}')).status == 304
    assert (await download(client, alice, t, If_None_Match="*")).status == 304
    assert (await download(client, alice, t, If_None_Match='"other"')).status == 200


async def test_head_sends_the_headers_without_the_bytes(client, alice):
    data = png(70_000)
    t = await upload(client, alice, data)
    resp = await client.head(local(t["file_url"]), headers=alice.headers)
    assert resp.status == 200
    assert resp.headers["Content-Length"] == str(len(data))
    assert resp.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert await resp.read() == b""
    part = await client.head(local(t["file_url"]), headers={**alice.headers, "Range": "bytes=5-9"})
    assert part.status == 206 and part.headers["Content-Length"] == "5"


async def test_documents_download_as_attachment_with_an_escaped_name(client, alice):
    data = b"notes\n<script>alert(1)</script>\n"
    t = await upload(client, alice, data, file_type="text/plain", name='rép"ort;\x7f.txt'.replace("\x7f", ""))
    resp = await download(client, alice, t)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Content-Disposition"] == \
        "attachment; filename=\"r_p_ort_.txt\"; filename*=UTF-8''r%C3%A9p%22ort%3B.txt"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_uploader_may_download_before_attaching_but_nobody_else(client, alice, bob):
    await make_group(client, alice, bob)
    t = await upload(client, alice, png(2000))
    assert (await download(client, alice, t)).status == 200
    assert (await download(client, bob, t)).status == 404


async def test_outsider_download_is_404_and_anonymous_is_401(client, alice, bob, carol):
    chat_id = await make_group(client, alice, bob)
    t = await upload(client, alice, png(2000))
    await attach(client, alice, await send(client, alice, chat_id), t)
    assert (await download(client, bob, t)).status == 200
    resp = await download(client, carol, t)
    assert resp.status == 404
    assert (await resp.json())["detail"] == "File not found"
    assert (await client.head(local(t["file_url"]), headers=carol.headers)).status == 404
    assert (await download(client, None, t)).status == 401
    assert (await client.get(local(t["file_url"]), headers={"Authorization": "Bearer nonsense"})).status == 401


async def test_pending_upload_is_not_downloadable(client, alice):
    t = await ticket(client, alice, size=100)
    assert (await download(client, alice, t)).status == 404


# signed download URLs ------------------------------------------------------------------------

async def test_signed_download_url_works_without_a_header(client, alice, bob, carol):
    chat_id = await make_group(client, alice, bob)
    data = png(5000)
    t = await upload(client, alice, data)
    await attach(client, alice, await send(client, alice, chat_id), t)
    resp = await client.post("/api/v1/media/download-url", json={"file_url": t["file_url"]}, headers=bob.headers)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["expires_in"] == 300
    assert body["download_url"].startswith(t["file_url"] + "?")
    got = await client.get(local(body["download_url"]))
    assert got.status == 200 and await got.read() == data
    assert (await client.get(local(body["download_url"]), headers={"Range": "bytes=0-3"})).status == 206

    url = URL(local(body["download_url"]))
    q = dict(url.query)
    for bad in ({**q, "sig": q["sig"][:-2] + "zz"}, {**q, "uid": str(carol.id)}, {**q, "exp": str(int(q["exp"]) + 1)},
                {"uid": q["uid"], "exp": q["exp"]}, {**q, "uid": "x"}):
        assert (await client.get(url.with_query(bad))).status == 403, bad

    outsider = await client.post("/api/v1/media/download-url", json={"file_url": t["file_url"]},
                                 headers=carol.headers)
    assert outsider.status == 404


async def test_signed_download_url_stops_when_the_viewer_leaves(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    t = await upload(client, alice, png(500))
    await attach(client, alice, await send(client, alice, chat_id), t)
    resp = await client.post("/api/v1/media/download-url", json={"file_url": t["file_url"]}, headers=bob.headers)
    url = (await resp.json())["download_url"]
    assert (await client.post(f"/api/v1/chats/{chat_id}/leave", headers=bob.headers)).status == 204
    assert (await client.get(local(url))).status == 404


async def test_download_url_refuses_foreign_urls(client, alice):
    for url in ("https://evil.example/media/bucket/uploads/" + "A" * 32 + ".png", "not a url", ""):
        resp = await client.post("/api/v1/media/download-url", json={"file_url": url}, headers=alice.headers)
        assert resp.status == 422, url


# attachments ---------------------------------------------------------------------------------

async def test_only_the_sender_may_attach(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id)
    t = await upload(client, bob, png(100))
    body = await attach(client, bob, message_id, t, expect=403)
    assert body["detail"] == "Only message sender can attach files"


async def test_attaching_to_a_message_one_cannot_see_is_404(client, alice, bob, carol):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id)
    t = await upload(client, carol, png(100))
    await attach(client, carol, message_id, t, expect=404)
    await attach(client, carol, 10**12, t, expect=404)


async def test_attach_needs_a_file_url_of_this_bucket(client, alice, bob, settings):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id)
    t = await upload(client, alice, png(100))
    name = t["object_key"].split("/")[-1]
    for url in (f"https://s3.example.com/media/bucket/uploads/{name}",
                f"{settings.base_url}/media/bucket/uploads/{name}?x=1",
                f"{settings.base_url}/media/bucket/uploads/../uploads/{name}",
                f"{settings.base_url}/elsewhere/uploads/{name}"):
        body = await attach(client, alice, message_id, {**t, "file_url": url}, expect=422)
        assert body["detail"][0]["loc"] == ["body", "file_url"], url


async def test_attach_only_own_uploads(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id)
    t = await upload(client, bob, png(100))
    body = await attach(client, alice, message_id, t, expect=403)
    assert body["detail"] == "Only files you uploaded can be attached"
    missing = {**t, "file_url": t["file_url"].rsplit("/", 1)[0] + "/" + "B" * 32 + ".png"}
    await attach(client, alice, message_id, missing, expect=404)


async def test_attach_before_the_put_is_409(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    t = await ticket(client, alice, size=100)
    await attach(client, alice, await send(client, alice, chat_id), t, expect=409)


async def test_attach_size_and_type_must_match_the_upload(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id)
    t = await upload(client, alice, png(100))
    body = await attach(client, alice, message_id, t, file_size=101, expect=422)
    assert body["detail"][0]["loc"] == ["body", "file_size"]
    body = await attach(client, alice, message_id, t, file_type="image/jpeg", expect=422)
    assert body["detail"][0]["loc"] == ["body", "file_type"]
    assert await rows(client, "SELECT * FROM attachments") == []


async def test_waveform_is_bounded(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id, "voice")
    t = await upload(client, alice, b"OggS" + os.urandom(100), file_type="audio/ogg")
    for bad in ([0] * 257, [256], [-1], ["x"], [1.5]):
        body = await attach(client, alice, message_id, t, waveform_points=bad, expect=422)
        assert body["detail"][0]["loc"][:2] == ["body", "waveform_points"], bad
    body = await attach(client, alice, message_id, t, waveform_points=[255] * 256)
    assert body["waveform_points"] == [255] * 256


async def test_same_file_twice_on_one_message_is_409_and_limit_is_10(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    message_id = await send(client, alice, chat_id)
    first = await upload(client, alice, png(100))
    await attach(client, alice, message_id, first)
    await attach(client, alice, message_id, first, expect=409)
    for _ in range(9):
        await attach(client, alice, message_id, await upload(client, alice, png(100)))
    body = await attach(client, alice, message_id, await upload(client, alice, png(100)), expect=422)
    assert "at most 10" in body["detail"]


async def test_attachment_list_is_paged_newest_first_for_members_only(client, alice, bob, carol):
    chat_id = await make_group(client, alice, bob)
    ids = []
    for _ in range(5):
        message_id = await send(client, alice, chat_id)
        ids.append((await attach(client, alice, message_id, await upload(client, alice, png(100))))["id"])
    resp = await client.get(f"/api/v1/media/chats/{chat_id}/attachments", params={"limit": 2}, headers=bob.headers)
    page1 = [a["id"] for a in await resp.json()]
    assert page1 == ids[::-1][:2]
    resp = await client.get(f"/api/v1/media/chats/{chat_id}/attachments",
                            params={"limit": 2, "before_id": page1[-1]}, headers=bob.headers)
    assert [a["id"] for a in await resp.json()] == ids[::-1][2:4]
    resp = await client.get(f"/api/v1/media/chats/{chat_id}/attachments", headers=carol.headers)
    assert resp.status == 404
    assert (await client.get("/api/v1/media/chats/999999/attachments", headers=bob.headers)).status == 404
    for bad in ({"limit": 0}, {"limit": 201}, {"before_id": 0}, {"limit": "x"}):
        resp = await client.get(f"/api/v1/media/chats/{chat_id}/attachments", params=bad, headers=bob.headers)
        assert resp.status == 422, bad
        assert resp.status == 422 and (await resp.json())["detail"][0]["loc"][0] == "query"


async def test_attachment_list_skips_messages_hidden_for_the_viewer(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    first = await send(client, alice, chat_id)
    await attach(client, alice, first, await upload(client, alice, png(100)))
    second = await send(client, alice, chat_id)
    await attach(client, alice, second, await upload(client, alice, png(100)))
    resp = await client.delete(f"/api/v1/messages/{second}", params={"for_all": "false"}, headers=bob.headers)
    assert resp.status == 204
    resp = await client.get(f"/api/v1/media/chats/{chat_id}/attachments", headers=bob.headers)
    assert [a["message_id"] for a in await resp.json()] == [first]
    resp = await client.get(f"/api/v1/media/chats/{chat_id}/attachments", headers=alice.headers)
    assert [a["message_id"] for a in await resp.json()] == [second, first]


async def test_attachment_list_query_uses_the_chat_index(client):
    plan = await rows(client, "EXPLAIN QUERY PLAN SELECT a.id FROM attachments a JOIN messages m ON m.id = a.message_id"
                              " WHERE a.chat_id = 1 AND a.id < 100 AND a.message_id > 0"
                              " AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = 1"
                              " AND h.message_id = a.message_id) ORDER BY a.id DESC LIMIT 10")
    details = " | ".join(r["detail"] for r in plan)
    assert "attachments_by_chat" in details and "SCAN a" not in details and "TEMP B-TREE" not in details, details


# storage -------------------------------------------------------------------------------------

async def test_identical_content_is_stored_once_and_counted(client, alice, bob, data_dir):
    data = png(100_000)
    a = await upload(client, alice, data)
    b = await upload(client, bob, data)
    assert a["object_key"] != b["object_key"]
    digest = hashlib.sha256(data).hexdigest()
    assert [p.name for p in blob_files(data_dir)] == [digest]
    assert await rows(client, "SELECT sha256, size, refs FROM media_blobs") == \
        [{"sha256": digest, "size": len(data), "refs": 2}]
    assert await (await download(client, bob, b)).read() == data


async def test_no_plaintext_of_an_upload_appears_under_the_data_directory(client, alice, bob, data_dir):
    marker = b"PUFFERD-SECRET-MARKER-7f3a9c"
    data = (marker + b" lorem ipsum\n") * 20_000
    chat_id = await make_group(client, alice, bob)
    t = await upload(client, alice, data, file_type="text/plain", name="secret.txt")
    await attach(client, alice, await send(client, alice, chat_id, "file"), t)
    assert await (await download(client, bob, t)).read() == data
    hits = []
    for path in data_dir.rglob("*"):
        if path.is_file() and marker in path.read_bytes():
            hits.append(path)
    assert hits == []
