"""The web client: the static files of pufferd/web/static/, served at / (README, "Web client").

At start-up every file is read once (with importlib.resources, so the PyInstaller bundle works
like an installed package), gzipped once where that helps, and given an ETag. The URLs of the
assets carry a version, the SHA-256 of the whole tree: `/assets/<version>/app/main.js`. The
client's ES modules import each other by relative paths, so one version for the tree keeps
every URL content-addressed without rewriting imports; a changed file gives every asset a new
URL, and each one is cached for a year as immutable (RFC 8246). The HTML shell (the same
document for every client-side route, so the links pufferd mails land on their screen) and the
service worker are revalidated on every load (`no-cache` + ETag).
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web

ASSETS = "/assets"
# every path the client routes itself; an unknown path is the usual JSON 404
CLIENT_ROUTES = ("/", "/login", "/signup", "/forgot-password", "/verify-email", "/reset-password",
                 "/join", "/chat", "/chat/{tail:.+}", "/settings", "/settings/{tail:.+}",
                 "/admin", "/admin/{tail:.+}")
_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json",
    ".webmanifest": "application/manifest+json", ".txt": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".svg", ".json", ".webmanifest", ".txt")
_NOT_SERVED = {"index.html", "sw.js"}
_ADMIN_ONLY = re.compile(r"^app/admin\.js$|^vendor/uplot\.")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_Q = re.compile(r"q\s*=\s*([01](?:\.\d{0,3})?)")
IMMUTABLE = "public, max-age=31536000, immutable"
# no-referrer: download URLs carry their signature in the query string (README, "Media")
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # None when gzip would not make it meaningfully smaller
    content_type: str
    etag: str  # the quoted strong validator of the identity body; the gzip variant adds "-gz"


@dataclass(frozen=True)
class Bundle:
    version: str
    assets: dict[str, Asset]  # by path under static/, "app/main.js"
    index: Asset
    service_worker: Asset


def _asset(path: str, body: bytes) -> Asset:
    ext = path[path.rfind("."):] if "." in path else ""
    gz = None
    if ext in _COMPRESSIBLE:
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        gz = packed if len(packed) < len(body) * 0.9 else None
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Asset(body, gz, _TYPES.get(ext, "application/octet-stream"), f'"{digest}"')


def _walk(node: Traversable, prefix: str = "") -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        name = f"{prefix}{child.name}"
        if child.is_dir():
            out.update(_walk(child, f"{name}/"))
        elif not child.name.startswith("."):
            out[name] = child.read_bytes()
    return out


def static_root() -> Traversable:
    """The shipped pufferd/web/static directory (a wheel, an editable install or the binary)."""
    return resources.files("pufferd.web") / "static"


def load_bundle(root: Traversable | None = None) -> Bundle:
    """Read, version, gzip and index every file of the static tree once."""
    files = _walk(root or static_root())
    tree = hashlib.sha256()
    for path, body in files.items():
        tree.update(path.encode() + b"\0" + hashlib.sha256(body).digest())
    version = tree.hexdigest()[:16]
    base = f"{ASSETS}/{version}"
    assets = {p: _asset(p, b) for p, b in files.items() if p not in _NOT_SERVED}
    # what the service worker precaches for offline starts: every asset but the console's (loaded
    # on demand) and the licence texts
    shell = [f"{base}/{p}" for p in assets if not _ADMIN_ONLY.search(p) and not p.startswith("vendor/licenses/")
             and p != "vendor/VERSIONS"]
    html = files["index.html"].decode().replace("%ASSETS%", base)
    sw = (files["sw.js"].decode().replace("%VERSION%", version)
          .replace('"%SHELL%"', ", ".join(f'"{u}"' for u in ["/", *shell])))
    return Bundle(version, assets, _asset("index.html", html.encode()), _asset("sw.js", sw.encode()))


@functools.cache
def shipped_bundle() -> Bundle:
    """The shipped tree's bundle, read once per process (every make_app shares it)."""
    return load_bundle()


def content_security_policy(host: str) -> str:
    """A strict policy: only this origin, no inline script or style, nothing framed."""
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
            "media-src 'self' blob:; font-src 'self'; manifest-src 'self'; worker-src 'self'; "
            f"connect-src 'self'{sockets}; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'; object-src 'none'")


def _accepts_gzip(request: web.Request) -> bool:
    """Whether Accept-Encoding allows gzip (RFC 9110 12.5.3: q=0 means "not acceptable")."""
    for part in request.headers.get("Accept-Encoding", "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = _Q.search(params)
            return q is None or float(q.group(1)) > 0
    return False


def respond(request: web.Request, asset: Asset, cache_control: str,
            extra: dict[str, str] | None = None) -> web.Response:
    """ASSET as gzip or identity per Accept-Encoding, 304 on a matching If-None-Match."""
    use_gz = asset.gzipped is not None and _accepts_gzip(request)
    etag = f'{asset.etag[:-1]}-gz"' if use_gz else asset.etag
    headers = {"Cache-Control": cache_control, "ETag": etag, "Vary": "Accept-Encoding",
               **COMMON_HEADERS, **(extra or {})}
    wanted = {t.strip().removeprefix("W/") for t in request.headers.get("If-None-Match", "").split(",")}
    if etag in wanted or "*" in wanted:
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = asset.content_type
    if use_gz:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=asset.gzipped if use_gz else asset.body, headers=headers)


def setup(app: web.Application, bundle: Bundle | None = None) -> None:
    """Add the shell's client routes, /sw.js and /assets/<version>/... to APP.

    Without BUNDLE, the shipped files are read and compressed by the first request for one of
    them (≈ 0.9 MB held from then on), not at start-up (issue 17, "Lean start")."""

    def files() -> Bundle:
        return bundle or shipped_bundle()

    async def shell(request: web.Request) -> web.Response:
        return respond(request, files().index, "no-cache", {
            "Content-Security-Policy": content_security_policy(request.host),
            "X-Frame-Options": "DENY", "Cross-Origin-Opener-Policy": "same-origin"})

    async def service_worker(request: web.Request) -> web.Response:
        return respond(request, files().service_worker, "no-cache",
                       {"Content-Security-Policy": content_security_policy(request.host)})

    async def asset(request: web.Request) -> web.Response:
        shipped = files()
        found = shipped.assets.get(request.match_info["path"])
        if found is None or request.match_info["version"] != shipped.version:
            raise web.HTTPNotFound()
        return respond(request, found, IMMUTABLE)

    for path in CLIENT_ROUTES:
        app.router.add_get(path, shell)
    app.router.add_get("/sw.js", service_worker)
    app.router.add_get(ASSETS + "/{version}/{path:.+}", asset)
