"""Health endpoints and the error middleware (API reference sections 1 and 4)."""
from __future__ import annotations

import os


async def test_health_and_live_answer_ok(client):
    for path in ("/health", "/health/live"):
        resp = await client.get(path)
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}


async def test_ready_names_each_part(client):
    resp = await client.get("/health/ready")
    assert resp.status == 200
    assert await resp.json() == {"status": "ready", "db": "ok", "blobs": "ok", "disk": "ok"}


async def test_ready_is_503_naming_the_failing_part(client, settings):
    os.chmod(settings.blobs_dir, 0o500)
    try:
        if os.access(settings.blobs_dir, os.W_OK):  # root ignores modes; use a file in the way instead
            os.chmod(settings.blobs_dir, 0o700)
            settings.blobs_dir.rename(settings.data_dir / "blobs-away")
            settings.blobs_dir.write_text("not a directory")
        resp = await client.get("/health/ready")
        assert resp.status == 503
        body = await resp.json()
        assert body["detail"]["status"] == "not_ready"
        assert body["detail"]["blobs"] is False
        assert body["detail"]["db"] is True
    finally:
        os.chmod(settings.data_dir, 0o700)


async def test_unknown_route_is_json_404(client):
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404
    assert await resp.json() == {"detail": "Not found"}


async def test_wrong_method_is_json_405_with_allow(client):
    resp = await client.post("/health/live")
    assert resp.status == 405
    assert await resp.json() == {"detail": "Method not allowed"}
    assert "GET" in resp.headers["Allow"]
