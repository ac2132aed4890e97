"""GET /metrics (issue 13, item 9): Prometheus text format from a per-app registry, labelled by
route template, guarded by metrics_token or served to loopback only."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from pufferd.app import make_app

TOKEN = "scrape-secret-123"


def parse(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


async def test_metrics_parse_and_count_requests_by_route_template(client, alice):
    for chat_id in (1, 2, 3):  # three raw paths, one template
        await client.get(f"/api/v1/messages/{chat_id}", headers=alice.headers)
    await client.get("/no/such/route")
    resp = await client.get("/metrics")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    families = parse(await resp.text())
    requests = {(s.labels["method"], s.labels["route"], s.labels["status"]): s.value
                for s in families["pufferd_http_requests"] if s.name.endswith("_total")}
    statuses = {k[2] for k in requests if k[1] == "/api/v1/messages/{chat_id}"}
    assert sum(v for k, v in requests.items() if k[1] == "/api/v1/messages/{chat_id}") == 3, requests
    assert statuses <= {"200", "404"}
    assert requests[("GET", "unmatched", "404")] == 1
    assert not any("/api/v1/messages/1" == k[1] for k in requests)  # never the raw path
    buckets = [s for s in families["pufferd_http_request_duration_seconds"]
               if s.name.endswith("_count") and s.labels["route"] == "/api/v1/messages/{chat_id}"]
    assert buckets and buckets[0].value == 3
    for name in ("pufferd_messages_sent", "pufferd_sockets_open", "pufferd_event_loop_lag_seconds",
                 "pufferd_db_write_batch_jobs", "pufferd_db_write_queue", "pufferd_blob_bytes",
                 "process_resident_memory_bytes", "process_cpu_seconds"):
        assert name in families, name


async def test_messages_sent_and_write_batches_are_counted(client, alice):
    resp = await client.post("/api/v1/chats", json={"type": "group", "title": "G", "member_ids": []},
                             headers=alice.headers)
    chat_id = (await resp.json())["id"]
    for k in range(3):
        sent = await client.post("/api/v1/messages", json={"chat_id": chat_id, "type": "text", "text": f"m{k}"},
                                 headers=alice.headers)
        assert sent.status == 201
    families = parse(await (await client.get("/metrics")).text())
    assert [s.value for s in families["pufferd_messages_sent"] if s.name.endswith("_total")] == [3]
    batches = [s.value for s in families["pufferd_db_write_batch_jobs"] if s.name.endswith("_count")]
    assert batches and batches[0] >= 3


async def test_without_a_token_a_proxied_request_is_refused(client):
    resp = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status == 403
    assert "loopback" in (await resp.json())["detail"]


async def test_with_a_token_only_a_request_bearing_it_is_served(aiohttp_client, settings):
    client = await aiohttp_client(make_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})))
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}",
                                                 "X-Forwarded-For": "203.0.113.9"})
    assert resp.status == 200 and "pufferd_http_requests_total" in await resp.text()


async def test_metrics_can_be_switched_off(aiohttp_client, settings):
    client = await aiohttp_client(make_app(settings.model_copy(update={"metrics_enabled": False})))
    assert (await client.get("/metrics")).status == 404


async def test_two_apps_in_one_process_keep_separate_registries(aiohttp_client, settings, app):
    first = await aiohttp_client(app)
    second = await aiohttp_client(make_app(settings))
    await first.get("/health/live")
    await first.get("/health/live")
    text = await (await second.get("/metrics")).text()
    live = [s for s in parse(text)["pufferd_http_requests"]
            if s.name.endswith("_total") and s.labels["route"] == "/health/live"]
    assert live == []
