"""The whole URL map: every handler module's Router, in one list.

Each module declares its routes next to its handlers with `@routes.get(...)` etc.; AREAS names
those modules in order, and all_routes() is what the OpenAPI document is built from.

A serving application does not import them all at start-up (issue 17, "Lean start": the handler
modules, their pydantic models and the domain code only they reach cost ≈ 5 MB of RSS and a
quarter of the start-up time). It registers every route from INDEX (pufferd/web/route_index.py,
the (method, path, area) of each route in this same order, written by `python -m
pufferd.web.routes` and checked against the modules by tests/web/test_route_index.py), and the
first request to a route of an area imports that area's module (LazyViews).
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from aiohttp import web

from pufferd.web.route import Handler, Route, Router

AREAS = (
    "health",
    "auth",
    "users",
    "realtime",
    "chats",
    "messages",
    "search",
    "notifications",
    "media",
    "system",
    "system_stats",
    "moderation",
    "maintenance",
    "cdn",
    "metrics",
    "federation",
    "voice",
)
INDEX_FILE = Path(__file__).with_name("route_index.py")


def router(area: str) -> Router:
    """The Router of one handler module (imported now if it was not yet)."""
    routes: Router = importlib.import_module(f"pufferd.web.handlers.{area}").routes
    return routes


def all_routes() -> list[Route]:
    return [r for area in AREAS for r in router(area).routes]


def index() -> list[tuple[str, str, str]]:
    """(method, path, area) of every route, read from the handler modules."""
    return [(r.method, r.path, area) for area in AREAS for r in router(area).routes]


def index_source() -> str:
    """The text of route_index.py for the handler modules as they are."""
    rows = "".join(f"    ({m!r}, {p!r}, {a!r}),\n" for m, p, a in index())
    return ('"""(method, path, area) of every route, in the order of pufferd/web/routes.py.\n\n'
            "Written by `python -m pufferd.web.routes`; do not edit (tests/web/test_route_index.py\n"
            'compares it with the handler modules)."""\n'
            "INDEX: tuple[tuple[str, str, str], ...] = (\n" + rows + ")\n")


class LazyViews:
    """aiohttp handlers for the routes of INDEX that import their area's module on first use.

    The import runs on the event loop, once per area: a request arriving meanwhile waits for it
    like for any other blocking work, none sees a 404 for a route that exists."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str], Handler] = {}

    def load(self, area: str) -> None:
        for r in router(area).routes:
            assert r.view is not None
            self._views.setdefault((r.method, r.path), r.view)

    def view(self, method: str, path: str, area: str) -> Handler:
        key = (method, path)
        views = self._views

        async def lazy_view(request: web.Request) -> web.StreamResponse:
            view = views.get(key)
            if view is None:
                self.load(area)
                view = views[key]
            response: web.StreamResponse = await view(request)
            return response

        lazy_view.__name__ = lazy_view.__qualname__ = f"{area}:{method} {path}"
        return lazy_view


if __name__ == "__main__":
    INDEX_FILE.write_text(index_source())
    print(f"wrote {INDEX_FILE} ({len(index())} routes)", file=sys.stderr)
