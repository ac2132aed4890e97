"""/openapi.json describes every registered route; /docs loads nothing from another host (issue 2, item 6)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from openapi_spec_validator import validate

# routes that serve the documentation itself rather than the API
_DOC_ROUTES = re.compile(r"^/(openapi\.json|docs|docs/assets/.*)$")
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def registered_operations(app) -> set[tuple[str, str]]:
    """(method, path) of every route the aiohttp app answers, in OpenAPI's path syntax."""
    ops = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if _DOC_ROUTES.match(path) or route.method == "*":
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
