"""The URL map a serving application registers before importing any handler module
(pufferd/web/route_index.py) is the one the handler modules declare (issue 17, "Lean start")."""
from __future__ import annotations

from pufferd.web import routes
from pufferd.web.route_index import INDEX

REGENERATE = "out of date: run `python -m pufferd.web.routes` and commit pufferd/web/route_index.py"


def test_index_is_every_route_of_the_handler_modules_in_order() -> None:
    assert list(INDEX) == routes.index(), REGENERATE
    assert routes.INDEX_FILE.read_text() == routes.index_source(), REGENERATE


def test_the_app_registers_every_route_of_the_index(app) -> None:
    registered = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    assert {(m, p) for m, p, _ in INDEX} <= registered


async def test_a_lazy_view_answers_like_the_handler(client) -> None:
    resp = await client.get("/health/ready")
    assert resp.status == 200
    assert (await resp.json())["status"] == "ready"
    resp = await client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x" * 12})
    assert resp.status == 401
    assert "detail" in await resp.json()
