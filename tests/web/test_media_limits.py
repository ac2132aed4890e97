"""Limits on uploads: the per-user quota of bytes nothing refers to yet, and the upload-url rate."""
from __future__ import annotations

import pytest
from media_helpers import attach, make_group, png, put, send, ticket, upload


@pytest.fixture
def settings_overrides():
    return {"unattached_upload_quota_bytes": 10_000, "max_upload_size_bytes": 4_000,
            "upload_url_rate_limit_per_minute": 5}


async def test_quota_counts_files_nothing_refers_to_yet(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    first = await upload(client, alice, png(4_000))
    await ticket(client, alice, size=4_000)              # pending URLs count too
    body = await ticket(client, alice, size=4_000, expect=422)
    assert body["detail"][0]["loc"] == ["body", "file_size"]
    assert "quota" in body["detail"][0]["msg"] and "8000 in use" in body["detail"][0]["msg"]
    await ticket(client, alice, size=2_000)
    await attach(client, alice, await send(client, alice, chat_id), first)
    await ticket(client, alice, size=4_000)              # the attached file no longer counts
    await ticket(client, bob, size=4_000)                # per user


async def test_upload_url_rate_limit(client, alice):
    for _ in range(5):
        await ticket(client, alice, size=10)
    resp = await client.post("/api/v1/media/upload-url", json={"file_name": "a.png", "file_type": "image/png",
                                                               "file_size": 10}, headers=alice.headers)
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert "Rate limit exceeded" in (await resp.json())["detail"]


async def test_refused_put_then_retry_within_the_limits(client, alice):
    t = await ticket(client, alice, size=4_000)
    assert (await put(client, t, png(4_000) + b"x")).status == 413
    assert (await put(client, t, png(4_000))).status == 200
