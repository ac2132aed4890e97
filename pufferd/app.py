"""Composition root: make_app(settings) builds the aiohttp application and wires every part."""
from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from aiohttp import web

from pufferd import activity, analytics, backups, instance, ipblocks, media, notifications, revocations, voice
from pufferd.authcache import AuthCache
from pufferd.blobs import LocalBlobStore
from pufferd.clock import Clock
from pufferd.config import Settings
from pufferd.context import Context
from pufferd.datadir import open_database
from pufferd.keys import Keys
from pufferd.limiter import Limiter
from pufferd.mail import make_mailer
from pufferd.passwords import PasswordHasher
from pufferd.periodic import Board
from pufferd.realtime.bus import Bus
from pufferd.realtime.hub import Hub
from pufferd.realtime.presence import Presence
from pufferd.web import https, ipguard, middleware, openapi, webapp
from pufferd.web.keys import CTX, HUB
from pufferd.web.metrics import METRICS, Metrics
from pufferd.web.metrics import middleware as metrics_middleware
from pufferd.web.route_index import INDEX
from pufferd.web.routes import LazyViews, all_routes

# at shutdown, mail work still running after this long is cancelled (an SMTP session that hangs
# must not hold the process: its own timeout is smtp_timeout_seconds)
MAIL_DRAIN_SECONDS = 10.0


def make_context(settings: Settings, *, clock: Clock | None = None) -> Context:
    """Open the data directory's database and keys and build every port."""
    keys = Keys.load(settings.keys_dir)
    db = open_database(settings)
    clock = clock or Clock()
    live = instance.load_settings(db, settings)  # flags > env > file > default, then database overrides
    settings = live.current
    return Context(settings=settings, live=live, ip_blocks=ipblocks.load(db, clock.time()),
                   db=db, clock=clock, keys=keys, bus=Bus(),
                   hasher=PasswordHasher(settings.bcrypt_rounds, settings.bcrypt_concurrency, settings.bcrypt_nice),
                   limiter=Limiter(clock), presence=Presence(), mailer=make_mailer(settings),
                   auth_cache=AuthCache(settings.auth_cache_seconds, clock),
                   blobs=LocalBlobStore(settings.blobs_dir, keys.derive("blob encryption"),
                                        direct_io=settings.blob_direct_io))


def make_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """The application the CLI serves and the tests drive."""
    ctx = make_context(settings, clock=clock)
    ctx.tasks = Board(ctx.clock.time)  # task times on the app's clock
    metrics = Metrics(ctx)
    settings = ctx.settings
    mws: list[Any] = [middleware.errors, ipguard.refuse_blocked]
    if settings.metrics_enabled:  # outside the error middleware: sees the final status
        mws.insert(0, metrics_middleware(metrics))
    if settings.cors_origins:
        mws.insert(0, middleware.cors(settings.cors_origins))
    app = web.Application(middlewares=mws, client_max_size=settings.max_body_bytes)
    app[CTX] = ctx
    app[METRICS] = metrics
    hub = app[HUB] = Hub(ctx, on_presence=partial(activity.presence_changed, ctx),
                         on_last_seen=partial(activity.record_last_seen, ctx))
    ctx.hooks.sessions_revoked.append(hub.revoke_user)
    ctx.bus.subscribe(partial(voice.on_event, ctx, hub))  # rights lost in a voice room end it at once
    ctx.hooks.blocked.append(partial(voice.on_block, ctx, hub))
    views = LazyViews()  # each area's handler module is imported by its first request (issue 17)
    for method, path, area in INDEX:
        app.router.add_route(method, path, views.view(method, path, area))
    openapi.setup(app, all_routes, title=settings.server_name)
    webapp.setup(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        ctx.db.start()
        hub.start()
        yield
        await ctx.mail_tasks.drain(cancel_after=MAIL_DRAIN_SECONDS)  # they write to the database
        await hub.stop()
        ctx.hasher.close()
        ctx.db.close()

    async def close_sockets(app: web.Application) -> None:
        await hub.shutdown()  # 1001 to every socket, before the runner drains requests

    app.cleanup_ctx.append(lifecycle)
    app.cleanup_ctx.append(lambda _app: media.lifecycle(ctx))  # after the db starts, stops before it
    app.cleanup_ctx.append(lambda _app: notifications.lifecycle(ctx))
    app.cleanup_ctx.append(lambda _app: analytics.lifecycle(ctx))  # flushes activity before the db closes
    app.cleanup_ctx.append(lambda _app: backups.lifecycle(ctx))
    app.cleanup_ctx.append(lambda _app: revocations.watch(ctx))
    app.cleanup_ctx.append(lambda _app: ipblocks.lifecycle(ctx))
    if settings.federation_enabled:  # off, nothing of the delivery queue is imported (issue 17)
        from pufferd.federation import delivery as federation_delivery

        app.cleanup_ctx.append(lambda _app: federation_delivery.lifecycle(ctx))
    app.on_shutdown.append(close_sockets)
    if settings.tls_enabled and settings.hsts_max_age_seconds:
        app.on_response_prepare.append(https.hsts(settings.hsts_max_age_seconds))
    return app
