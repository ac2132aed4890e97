"""Typed keys for state on the aiohttp application and request (aiohttp `AppKey`)."""
from __future__ import annotations

from aiohttp import web

from pufferd.context import Context
from pufferd.db.users_q import User
from pufferd.realtime.hub import Hub
from pufferd.tokens import Claims

CTX = web.AppKey("ctx", Context)
HUB = web.AppKey("hub", Hub)  # the realtime hub: every open WebSocket of this process
USER = web.RequestKey("user", User)        # request[USER]: the authenticated users_q.User
CLAIMS = web.RequestKey("claims", Claims)  # request[CLAIMS]: the access token's tokens.Claims
