"""/openapi.json built from the route registry and the pydantic models; /docs from shipped assets."""
from __future__ import annotations

import asyncio
import json
import logging
import typing
from collections.abc import Callable, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from pufferd import __version__
from pufferd.web import ipguard

if typing.TYPE_CHECKING:
    from pufferd.web.route import Route

log = logging.getLogger("pufferd.web")
_ERROR = {"$ref": "#/components/schemas/HTTPError"}
_SHOWN_TEXTS = 4  # detail texts quoted in an error's description
Refs = Mapping[Any, dict[str, Any]]  # (model, mode) -> its schema or $ref
_ERROR_SCHEMA = {
    "title": "HTTPError", "type": "object", "required": ["detail"],
    "properties": {"detail": {"title": "Detail", "description": "A message, or a list of validation errors"}},
}


def _models_of(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models_of(arg)]


def _schema_for(tp: Any, refs: Refs) -> dict[str, Any]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return refs[(tp, "serialization")]
    origin = typing.get_origin(tp)
    if origin is list:
        return {"type": "array", "items": _schema_for(typing.get_args(tp)[0], refs)}
    raise TypeError(f"unsupported response type {tp!r}")


def error_description(status: int, texts: list[str]) -> str:
    """One line: the status phrase, then the detail texts the code raises it with."""
    phrase = HTTPStatus(status).phrase
    if not texts:
        return phrase
    shown = "; ".join(texts[:_SHOWN_TEXTS])
    more = f" (and {len(texts) - _SHOWN_TEXTS} more)" if len(texts) > _SHOWN_TEXTS else ""
    return f"{phrase}: {shown}{more}"


def _responses(r: Route, refs: Refs) -> dict[str, Any]:
    """Every status R can answer (pufferd/web/raises.py reads them from the code), then what the
    route's `openapi=` says about some of them."""
    from pufferd.web import raises  # the analyser is needed by the first document only (issue 17)

    found = raises.answers(r)
    responses: dict[str, Any] = {}
    blockable = ipguard.applies_to(r.path)  # a middleware: 403 before the view runs
    for status in sorted(found.statuses | ({403} if blockable else set())):
        if status == r.status == 204:
            responses["204"] = {"description": "No content"}
        elif status == r.status and r.response is not None:
            responses[str(status)] = {"description": "Success", "content": {
                "application/json": {"schema": _schema_for(r.response, refs)}}}
        elif status < 400:
            responses[str(status)] = {"description": "Success" if status == r.status else HTTPStatus(status).phrase}
        else:
            texts = found.texts(status) + ([ipguard.DETAIL] if status == 403 and blockable else [])
            responses[str(status)] = {"description": error_description(status, texts),
                                      "content": {"application/json": {"schema": _ERROR}}}
    for status, written in r.openapi.get("responses", {}).items():  # a better description, say
        responses[status] = {**responses.get(status, {}), **written}
    if r.method == "HEAD":  # no body, whatever the status
        responses = {k: {"description": v["description"]} for k, v in responses.items()}
    return responses


def operation_id(r: Route) -> str:
    """The handler's name, qualified by its area: names repeat across areas (users `me`, auth `me`)."""
    tag, name = (r.tags[0] if r.tags else ""), r.handler.__name__
    return name if not tag or name.startswith(f"{tag}_") else f"{tag}_{name}"


def build(routes: list[Route], *, title: str, server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ROUTES."""
    wanted: set[tuple[type[BaseModel], Literal["validation", "serialization"]]] = set()
    for r in routes:
        if r.body:
            wanted.add((r.body, "validation"))
        if r.query:
            wanted.add((r.query, "validation"))
        for m in _models_of(r.response):
            wanted.add((m, "serialization"))
    ordered = sorted(wanted, key=lambda x: (x[0].__name__, x[1]))
    refs, defs = models_json_schema(ordered, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["HTTPError"] = _ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {"operationId": operation_id(r), "summary": r.summary, "tags": r.tags}
        if r.description:
            op["description"] = r.description
        params: list[dict[str, Any]] = []
        for name, typ in r.path_params.items():
            params.append({"name": name, "in": "path", "required": True,
                           "schema": {"type": "integer" if typ is int else "string"}})
        if r.query is not None:
            qschema = schemas[r.query.__name__]
            required = set(qschema.get("required", []))
            for name, prop in qschema.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": refs[(r.body, "validation")]}}}
        if r.auth:
            op["security"] = [{"bearerAuth": []}]
        op["responses"] = _responses(r, refs)
        op.update({k: v for k, v in r.openapi.items() if k != "responses"})
        paths.setdefault(r.path, {})[r.method.lower()] = op
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__,
                 "description": "The pufferd REST API: accounts, chats, messages, media, search, "
                                "notifications and realtime events. Errors are `{\"detail\": ...}`."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    from pufferd.web import raises

    unsure = raises.unresolved()
    if unsure:
        log.warning("/openapi.json may miss statuses: the analysis could not tell %s", "; ".join(unsure))
    return doc


def swagger_dir() -> Path:
    """The directory holding swagger-ui-bundle.js and swagger-ui.css, shipped with the program."""
    import swagger_ui_bundle  # type: ignore[import-untyped]

    root = Path(swagger_ui_bundle.swagger_ui_path)
    return root


DOCS_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body></html>
"""

# validatorUrl: null stops Swagger UI from loading a badge from validator.swagger.io: /docs
# fetches nothing from another host (CONTRACT.md, "HTTP API")
INIT_JS = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, persistAuthorization: true, validatorUrl: null});
"""


def setup(app: web.Application, routes: Callable[[], list[Route]], title: str) -> None:
    """Add /openapi.json, /docs and /docs/assets/* to APP.

    The document is built on the first request for it, not at start-up: reading the handlers'
    code for their statuses takes a fraction of a second, in a thread so the loop keeps serving.
    ROUTES gives the routes then (importing every handler module: pufferd/web/routes.py).
    """
    document: asyncio.Future[bytes] | None = None
    html = DOCS_HTML.format(title=title)
    files = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "application/javascript"}

    async def openapi_json(request: web.Request) -> web.Response:
        nonlocal document
        if document is None:  # one build, shared by requests that arrive while it runs
            # the handler modules not loaded yet are imported here, on the loop like a first
            # request's, never in the build's thread beside one of those
            listed = routes()
            document = asyncio.ensure_future(asyncio.to_thread(
                lambda: json.dumps(build(listed, title=title)).encode()))
        try:
            body = await asyncio.shield(document)
        except Exception:
            document = None  # a failed build is tried again by the next request
            raise
        return web.Response(body=body, content_type="application/json")

    async def docs(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html", headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"})

    async def init_js(request: web.Request) -> web.Response:
        return web.Response(text=INIT_JS, content_type="application/javascript")

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in files:
            raise web.HTTPNotFound()
        return web.FileResponse(swagger_dir() / name, headers={"Content-Type": files[name],
                                                          "Cache-Control": "public, max-age=86400"})

    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/docs", docs)
    app.router.add_get("/docs/assets/init.js", init_js)
    app.router.add_get("/docs/assets/{name}", asset)
