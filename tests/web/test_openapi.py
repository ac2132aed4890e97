"""/openapi.json describes every registered route with every status it can answer (issue 11, item 5);
/docs loads nothing from another host (issue 2, item 6)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from openapi_spec_validator import validate
from openapi_statuses import undocumented

from pufferd.app import make_app
from pufferd.web import openapi, raises
from pufferd.web.routes import all_routes

# routes that serve the documentation itself rather than the API
_DOC_ROUTES = re.compile(r"^/(openapi\.json|docs|docs/assets/.*)$")
# the web client's pages and assets (pufferd/web/webapp.py): a client of the API, not part of it
_PAGES_MODULE = "pufferd.web.webapp"
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def registered_operations(app) -> set[tuple[str, str]]:
    """(method, path) of every route the aiohttp app answers, in OpenAPI's path syntax."""
    ops = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if _DOC_ROUTES.match(path) or route.method == "*" or route.handler.__module__ == _PAGES_MODULE:
            continue
        ops.add((route.method.lower(), path))
    return _without_implied_head(ops)


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    ops = {(method, path) for path, item in doc["paths"].items() for method in item if method in _METHODS}
    return _without_implied_head(ops)


def _without_implied_head(ops: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """aiohttp's add_get() adds HEAD beside GET by itself; compare both sides without it."""
    return {(m, p) for m, p in ops if not (m == "head" and ("get", p) in ops)}


async def test_openapi_document_is_valid_openapi_3_1(client):
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


async def test_every_registered_route_is_documented_with_its_method(client, app):
    doc = await (await client.get("/openapi.json")).json()
    registered = registered_operations(app)
    assert ("get", "/health/ready") in registered
    missing = registered - documented_operations(doc)
    assert not missing, f"routes missing from /openapi.json: {sorted(missing)}"


async def test_every_documented_operation_is_a_registered_route(client, app):
    doc = await (await client.get("/openapi.json")).json()
    phantom = documented_operations(doc) - registered_operations(app)
    assert not phantom, f"/openapi.json documents routes that do not exist: {sorted(phantom)}"


async def test_operation_ids_are_unique(client):
    doc = await (await client.get("/openapi.json")).json()
    ids = [op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m in _METHODS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


async def test_every_operation_documents_its_error_body(client):
    doc = await (await client.get("/openapi.json")).json()
    assert doc["components"]["schemas"]["HTTPError"]["required"] == ["detail"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            assert op["summary"], f"{method} {path} has no summary"
            if op.get("security"):
                assert "401" in op["responses"], f"{method} {path} needs auth but does not document 401"
            for status, response in op["responses"].items():
                assert response["description"], f"{method} {path} {status} has no description"
                if int(status) >= 400 and method != "head":  # a HEAD answer has no body
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/HTTPError"}, f"{method} {path} {status}"


def _responses(doc: dict, method: str, path: str) -> set[int]:
    return {int(s) for s in doc["paths"][path][method]["responses"]}


async def test_operations_document_the_errors_their_domain_rules_raise(client):
    doc = await (await client.get("/openapi.json")).json()
    # issue 11 item 5: these were documented as 401 and 422 only
    assert {403, 404, 429} <= _responses(doc, "post", "/api/v1/messages")
    assert {403, 404, 409} <= _responses(doc, "post", "/api/v1/chats")
    assert {401, 404, 422} <= _responses(doc, "get", "/api/v1/chats/{chat_id}")
    forbidden = doc["paths"]["/api/v1/messages"]["post"]["responses"]["403"]["description"]
    assert forbidden.startswith("Forbidden: ") and "channel" in forbidden  # the texts the code raises


async def test_operations_document_only_what_their_route_can_give(client):
    doc = await (await client.get("/openapi.json")).json()
    # no body: no malformed JSON (400), no body limit (413); no bearer token: no 401
    assert not {400, 413} & _responses(doc, "get", "/api/v1/chats/{chat_id}")
    assert _responses(doc, "get", "/health") == {200}
    # 204 routes answer 204, not 200
    assert 200 not in _responses(doc, "delete", "/api/v1/chats/{chat_id}/members/{user_id}")
    # the WebSocket's errors after the upgrade are frames, not statuses (403: an IP block)
    assert _responses(doc, "get", "/api/v1/ws") == {101, 400, 401, 403, 422, 429}


async def test_file_download_documents_ranges_and_conditional_requests(client):
    doc = await (await client.get("/openapi.json")).json()
    assert {200, 206, 304, 416} <= _responses(doc, "get", "/media/bucket/uploads/{name}")
    assert {200, 206, 304, 416} <= _responses(doc, "head", "/media/bucket/uploads/{name}")


def test_written_descriptions_name_only_statuses_the_code_can_answer():
    """A route's `openapi=` may describe a status better, never add one the code cannot give."""
    for r in all_routes():
        written = {int(s) for s in r.openapi.get("responses", {})}
        assert written <= raises.answers(r).statuses, f"{r.method} {r.path}: {written - raises.answers(r).statuses}"


def test_undocumented_names_each_status_seen_that_the_document_lacks():
    doc = openapi.build(all_routes(), title="t")
    seen = {("GET", "/api/v1/chats/{chat_id}", 200), ("GET", "/api/v1/chats/{chat_id}", 418),
            ("POST", "/api/v1/messages", 403), ("GET", "/docs", 599)}
    assert undocumented(doc, seen) == ["GET /api/v1/chats/{chat_id}: 418 seen, not documented"]


async def test_the_document_is_built_on_the_first_request_for_it(settings, aiohttp_client, monkeypatch):
    builds = []
    real = openapi.build
    monkeypatch.setattr(openapi, "build", lambda *a, **kw: builds.append(1) or real(*a, **kw))
    client = await aiohttp_client(make_app(settings))
    assert builds == []  # start-up reads no handler code
    first = await (await client.get("/openapi.json")).json()
    again = await (await client.get("/openapi.json")).json()
    assert builds == [1] and first == again


class _AssetRefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append(value)


def _is_other_host(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url, re.IGNORECASE))


async def test_docs_page_loads_its_assets_from_this_server_only(client):
    resp = await client.get("/docs")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    parser = _AssetRefs()
    parser.feed(html)
    assert parser.refs, "the page references its script and style"
    assert not [u for u in parser.refs if _is_other_host(u)]
    assert not re.search(r"https?://", html)
    # the browser is told to fetch from this origin only
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    for ref in parser.refs:
        asset = await client.get(ref)
        assert asset.status == 200, ref
        assert asset.content_type in ("text/css", "application/javascript"), ref
        assert int(asset.headers.get("Content-Length", "1")) > 0


async def test_docs_initialiser_reads_this_servers_document_and_no_validator(client):
    js = await (await client.get("/docs/assets/init.js")).text()
    assert 'url: "/openapi.json"' in js
    assert "validatorUrl: null" in js  # otherwise Swagger UI loads a badge from validator.swagger.io
    assert not re.search(r"https?://", js)


async def test_docs_assets_outside_the_bundle_are_404(client):
    resp = await client.get("/docs/assets/..%2F..%2Fconfig.py")
    assert resp.status == 404
    assert await resp.json() == {"detail": "Not found"}
