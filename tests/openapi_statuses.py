"""The statuses a test session saw, against those /openapi.json documents (issue 11, item 5).

tests/conftest.py hands `record` to every app the tests serve in-process (through pytest-aiohttp's
`aiohttp_client`) as an `on_response_prepare` signal; at the end of the session `undocumented`
lists each (method, route, status) answered that the document does not name. Running a subset of
the tests checks what that subset saw.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

SEEN: set[tuple[str, str, int]] = set()


async def record(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: note the route template and the status sent."""
    route = request.match_info.route
    resource = route.resource
    if resource is None or route.method == "*":  # the router's own 404/405: no operation matched
        return
    SEEN.add((route.method.upper(), resource.canonical, response.status))


def undocumented(doc: dict[str, Any], seen: set[tuple[str, str, int]]) -> list[str]:
    """"GET /api/v1/chats/{chat_id}: 403 seen, not documented" for each status DOC lacks.

    Routes outside the document (/docs, /openapi.json, the web client's pages) are not operations.
    """
    out = []
    for method, path, status in sorted(seen):
        operation = doc["paths"].get(path, {}).get(method.lower())
        if operation is not None and str(status) not in operation["responses"]:
            out.append(f"{method} {path}: {status} seen, not documented")
    return out
