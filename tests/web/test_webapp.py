"""The web client's static files: the shell on every client route, versioned immutable assets,
gzip by Accept-Encoding, ETags, and the security headers (pufferd/web/webapp.py)."""
from __future__ import annotations

import gzip
import re

from pufferd.web import webapp


async def test_shell_is_served_for_every_client_route_with_a_strict_policy(client):
    for path in ("/", "/login", "/verify-email?token=x", "/reset-password?token=x", "/join?token=x",
                 "/chat/12", "/chat/12/info", "/settings/sessions", "/admin", "/admin/users"):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-cache"
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert re.search(r"connect-src 'self' ws://127\.0\.0\.1:\d+ wss://127\.0\.0\.1:\d+;", csp)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        body = await resp.text()
        assert '<script type="module" src="/assets/' in body and "%ASSETS%" not in body


async def test_unknown_paths_stay_json_404(client):
    for path in ("/api/v1/nothing", "/nothing", "/chatx", "/assets/nope/app/main.js"):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert await resp.json() == {"detail": "Not found"}


async def test_assets_are_versioned_immutable_and_gzipped_on_request(client):
    bundle = webapp.shipped_bundle()
    url = f"/assets/{bundle.version}/app/main.js"
    plain = await client.get(url, headers={"Accept-Encoding": "identity"}, auto_decompress=False)
    assert plain.status == 200
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "Content-Encoding" not in plain.headers
    body = await plain.read()
    packed = await client.get(url, headers={"Accept-Encoding": "br, gzip"}, auto_decompress=False)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(await packed.read()) == body
    assert packed.headers["ETag"] != plain.headers["ETag"]
    refused = await client.get(url, headers={"Accept-Encoding": "gzip;q=0"}, auto_decompress=False)
    assert "Content-Encoding" not in refused.headers
    again = await client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status == 304
    wrong_version = await client.get(f"/assets/{'0' * 16}/app/main.js")
    assert wrong_version.status == 404


async def test_service_worker_lists_the_versioned_shell(client):
    bundle = webapp.shipped_bundle()
    resp = await client.get("/sw.js")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache"
    text = await resp.text()
    assert bundle.version in text and f'"/assets/{bundle.version}/app/main.js"' in text
    shell = re.search(r"const SHELL = \[(.*)\];", text).group(1)
    # everything an offline start imports, nothing only the administration console loads
    for name in ("app/settings.js", "vendor/uqr.mjs", "vendor/preact.mjs", "app/app.css", "manifest.webmanifest"):
        assert f'"/assets/{bundle.version}/{name}"' in shell, name
    assert "admin.js" not in shell and "uplot" not in shell and "licenses" not in shell


def test_bundle_version_follows_the_content(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "index.html").write_text('<script src="%ASSETS%/app/main.js"></script>')
    (tmp_path / "sw.js").write_text('const V = "%VERSION%"; const S = ["%SHELL%"];')
    (tmp_path / "app" / "main.js").write_text("console.log(1)")
    first = webapp.load_bundle(tmp_path)
    assert first.index.body.decode() == f'<script src="/assets/{first.version}/app/main.js"></script>'
    (tmp_path / "app" / "main.js").write_text("console.log(2)")
    second = webapp.load_bundle(tmp_path)
    assert second.version != first.version
    assert set(second.assets) == {"app/main.js"}
