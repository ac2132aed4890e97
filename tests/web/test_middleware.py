"""Middlewares and the route wrapper: JSON errors, body limit, validation, CORS (issue 2, item 5)."""
from __future__ import annotations

import json
import logging

import pytest
from aiohttp import web
from pydantic import BaseModel, Field

from pufferd.app import make_app
from pufferd.config import load_settings
from pufferd.errors import Conflict, RateLimited
from pufferd.web.route import Router

# Routes that exist only in these tests, registered the way every area registers its own.
probe = Router("probe")


class Thing(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    count: int = Field(ge=0)


@probe.post("/test/things", body=Thing, response=Thing, status=201, auth=False)
async def create_thing(request: web.Request, body: Thing) -> Thing:
    """Echo a valid thing."""
    return body


@probe.get("/test/things/{thing_id}", auth=False)
async def get_thing(request: web.Request, thing_id: int) -> dict[str, int]:
    """Echo the id."""
    return {"id": thing_id}


@probe.get("/test/crash", auth=False)
async def crash(request: web.Request) -> None:
    """Fail in a way no rule foresaw."""
    raise RuntimeError("secret internals: /srv/pufferd/keys/master.key")


@probe.get("/test/conflict", auth=False)
async def conflict(request: web.Request) -> None:
    raise Conflict("Username already taken")


@probe.get("/test/limited", auth=False)
async def limited(request: web.Request) -> None:
    raise RateLimited(42)


def with_probe(app: web.Application) -> web.Application:
    for r in probe.routes:
        app.router.add_route(r.method, r.path, r.view)  # type: ignore[arg-type]
    return app


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"max_body_bytes": 4096}


@pytest.fixture
def app(settings):
    return with_probe(make_app(settings))


# JSON bodies -------------------------------------------------------------------------------------------

async def test_a_valid_body_is_parsed_and_the_response_serialised(client):
    resp = await client.post("/test/things", json={"name": "kettle", "count": 2})
    assert resp.status == 201
    assert resp.content_type == "application/json"
    assert await resp.json() == {"name": "kettle", "count": 2}


async def test_malformed_json_is_400_with_a_useful_detail(client):
    resp = await client.post("/test/things", data=b'{"name": "kettle", "count": ',
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert await resp.json() == {"detail": "Malformed JSON body: the request body is not valid JSON"}


async def test_an_empty_body_is_422_naming_the_body(client):
    resp = await client.post("/test/things", data=b"", headers={"Content-Type": "application/json"})
    assert resp.status == 422
    detail = (await resp.json())["detail"]
    assert detail[0]["loc"] == ["body"] and detail[0]["type"] == "missing"


async def test_validation_errors_are_422_naming_each_field(client):
    resp = await client.post("/test/things", json={"name": "", "count": "many"})
    assert resp.status == 422
    detail = (await resp.json())["detail"]
    by_loc = {tuple(d["loc"]): d for d in detail}
    assert set(by_loc) == {("body", "name"), ("body", "count")}
    assert by_loc[("body", "name")]["type"] == "string_too_short"
    assert by_loc[("body", "count")]["type"] == "int_parsing"
    assert all(set(d) == {"loc", "msg", "type"} for d in detail)  # no echo of the input


async def test_a_missing_field_is_422_naming_it(client):
    resp = await client.post("/test/things", json={"name": "kettle"})
    assert resp.status == 422
    assert (await resp.json())["detail"] == [{"loc": ["body", "count"], "msg": "Field required", "type": "missing"}]


async def test_a_non_integer_path_parameter_is_422_naming_it(client):
    resp = await client.get("/test/things/abc")
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["path", "thing_id"]
    ok = await client.get("/test/things/7")
    assert await ok.json() == {"id": 7}


async def test_a_body_over_max_body_bytes_is_413_json(client):
    big = json.dumps({"name": "x" * 5000, "count": 1})
    resp = await client.post("/test/things", data=big, headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert resp.content_type == "application/json"
    assert await resp.json() == {"detail": "Request body too large"}


# errors ------------------------------------------------------------------------------------------------

async def test_a_domain_error_is_its_status_with_detail(client):
    resp = await client.get("/test/conflict")
    assert resp.status == 409
    assert await resp.json() == {"detail": "Username already taken"}


async def test_a_rate_limit_keeps_its_retry_after_header(client):
    resp = await client.get("/test/limited")
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "42"
    assert await resp.json() == {"detail": "Rate limit exceeded. Retry in 42 seconds."}


async def test_an_unknown_route_is_404_json(client):
    resp = await client.get("/api/v1/no/such/thing")
    assert resp.status == 404
    assert resp.content_type == "application/json"
    assert await resp.json() == {"detail": "Not found"}


async def test_a_wrong_method_is_405_json_with_allow(client):
    resp = await client.delete("/test/things")
    assert resp.status == 405
    assert resp.content_type == "application/json"
    assert await resp.json() == {"detail": "Method not allowed"}
    assert resp.headers["Allow"] == "POST"


async def test_an_unhandled_exception_is_500_json_with_a_request_id_and_no_leak(client, caplog):
    with caplog.at_level(logging.ERROR, logger="pufferd.web"):
        resp = await client.get("/test/crash")
    assert resp.status == 500
    text = await resp.text()
    body = json.loads(text)
    assert set(body) == {"detail"}
    assert body["detail"].startswith("Internal server error (request id ")
    request_id = body["detail"].removeprefix("Internal server error (request id ").rstrip(")")
    assert len(request_id) == 12
    assert "secret internals" not in text and "Traceback" not in text and "RuntimeError" not in text
    # the operator finds the traceback in the log under the same request id
    record = next(r for r in caplog.records if request_id in r.getMessage())
    assert record.exc_info is not None and "secret internals" in str(record.exc_info[1])


# CORS --------------------------------------------------------------------------------------------------

ORIGIN = "https://app.example.org"


@pytest.fixture
async def cors_client(aiohttp_client, data_dir):
    return await aiohttp_client(with_probe(make_app(load_settings(data_dir, cors_origins=[ORIGIN]))))


async def test_cors_preflight_is_answered_for_an_allowed_origin(cors_client):
    resp = await cors_client.options("/test/things", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert resp.headers["Vary"] == "Origin"


async def test_cors_headers_are_on_responses_and_errors_for_an_allowed_origin(cors_client):
    ok = await cors_client.post("/test/things", json={"name": "a", "count": 1}, headers={"Origin": ORIGIN})
    assert ok.status == 201
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = {h.strip() for h in ok.headers["Access-Control-Expose-Headers"].split(",")}
    # a browser client reads the retry delay of a 429 and the file name of a download
    assert {"Retry-After", "Content-Disposition", "Content-Range"} <= exposed
    missing = await cors_client.get("/nothing", headers={"Origin": ORIGIN})
    assert missing.status == 404
    assert missing.headers["Access-Control-Allow-Origin"] == ORIGIN  # the browser app can read the error


async def test_cors_ignores_an_origin_not_listed(cors_client):
    resp = await cors_client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert resp.status == 200
    assert "Access-Control-Allow-Origin" not in resp.headers
    pre = await cors_client.options("/test/things", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert pre.status == 405
    assert "Access-Control-Allow-Origin" not in pre.headers


async def test_cors_star_allows_any_origin(aiohttp_client, data_dir):
    client = await aiohttp_client(make_app(load_settings(data_dir, cors_origins=["*"])))
    resp = await client.get("/health/live", headers={"Origin": "https://anywhere.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"


async def test_no_cors_headers_when_no_origins_are_configured(client):
    resp = await client.get("/health/live", headers={"Origin": ORIGIN})
    assert resp.status == 200
    assert not any(h.startswith("Access-Control-") for h in resp.headers)
    pre = await client.options("/test/things", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert pre.status == 405
    assert not any(h.startswith("Access-Control-") for h in pre.headers)
