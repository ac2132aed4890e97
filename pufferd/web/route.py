"""One decorator drives both the URL map and the OpenAPI document (STYLE.md, "A handler is thin").

    routes = Router()

    @routes.post("/api/v1/messages", body=MessageCreate, response=MessageRead, status=201)
    async def send_message(request, body: MessageCreate) -> MessageRead: ...

Path parameters are the handler's keyword parameters named like the `{placeholders}`; their
annotation (int or str) converts them. `body=` parses the JSON body, `query=` the query string;
both give 400 for malformed JSON and 422 with the failing field named. `response=` serialises the
return value (a model or a list of models); `status=204` sends no body.
"""
from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from pufferd import auth
from pufferd.errors import BadRequest, RuleViolation
from pufferd.web.keys import CLAIMS, CTX, USER

_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
Handler = Callable[..., Awaitable[Any]]


def validation_detail(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    """Pydantic errors as the API's 422 detail: a list naming each failing field."""
    out = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        out.append({"loc": [where, *err["loc"]], "msg": err["msg"], "type": err["type"]})
    return out


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    auth: bool
    tags: list[str]
    path_params: dict[str, type]
    summary: str
    description: str
    openapi: dict[str, Any] = field(default_factory=dict)
    view: Handler | None = None


class Router:
    """The routes of one handler module."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.routes: list[Route] = []

    def route(self, method: str, path: str, *, body: type[BaseModel] | None = None,
              query: type[BaseModel] | None = None, response: Any = None, status: int = 200,
              auth: bool = True, openapi: dict[str, Any] | None = None) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            hints = get_type_hints(handler)
            names = _PLACEHOLDER.findall(path)
            params = inspect.signature(handler).parameters
            missing = [n for n in names if n not in params]
            if missing:
                raise TypeError(f"{handler.__name__}: no parameter for path placeholder(s) {missing}")
            doc = inspect.getdoc(handler) or handler.__name__.replace("_", " ")
            summary, _, description = doc.partition("\n")
            r = Route(method, path, handler, body, query, response, status, auth, [self.tag],
                      {n: hints.get(n, str) for n in names}, summary.strip(), description.strip(),
                      openapi or {})
            r.view = _make_view(r)
            self.routes.append(r)
            return handler
        return decorate

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def authenticate(request: web.Request) -> None:
    """Resolve the bearer token to request[USER] and request[CLAIMS], or raise 401."""
    user, claims = await auth.authenticate(request.app[CTX], bearer_token(request))
    request[USER] = user
    request[CLAIMS] = claims


def _query_dict(request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in request.query.keys():
        info = model.model_fields.get(key)
        values = request.query.getall(key)
        is_list = info is not None and getattr(info.annotation, "__origin__", None) is list
        out[key] = values if is_list else values[-1]
    return out


def _make_view(r: Route) -> Handler:
    adapter = TypeAdapter(r.response) if r.response is not None else None
    converters = {name: typ for name, typ in r.path_params.items()}

    @functools.wraps(r.handler)
    async def view(request: web.Request) -> web.StreamResponse:
        if r.auth:
            await authenticate(request)
        kwargs: dict[str, Any] = {}
        for name, typ in converters.items():
            raw = request.match_info[name]
            if typ is int:
                try:
                    value = int(raw)
                except ValueError:
                    raise RuleViolation([{"loc": ["path", name], "msg": "Input should be a valid integer",
                                          "type": "int_parsing"}]) from None
                if not -(2**63) <= value < 2**63:
                    raise RuleViolation([{"loc": ["path", name], "msg": "Integer out of range",
                                          "type": "int_range"}])
                kwargs[name] = value
            else:
                kwargs[name] = raw
        if r.query is not None:
            try:
                kwargs["query"] = r.query.model_validate(_query_dict(request, r.query))
            except ValidationError as exc:
                raise RuleViolation(validation_detail(exc, "query")) from None
        if r.body is not None:
            raw_body = await request.read()
            if not raw_body.strip():
                raise RuleViolation([{"loc": ["body"], "msg": "Field required: a JSON body is expected",
                                      "type": "missing"}])
            try:
                kwargs["body"] = r.body.model_validate_json(raw_body)
            except ValidationError as exc:
                errors = exc.errors(include_url=False, include_context=False, include_input=False)
                if errors and errors[0]["type"] == "json_invalid":
                    raise BadRequest("Malformed JSON body: the request body is not valid JSON") from None
                raise RuleViolation(validation_detail(exc, "body")) from None
        result = await r.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if r.status == 204:
            return web.Response(status=204)
        if adapter is not None:
            body = adapter.dump_json(result)
        else:
            body = json.dumps(result).encode()  # as web.json_response would, without building a response
        return web.Response(body=body, status=r.status, content_type="application/json")

    return view
