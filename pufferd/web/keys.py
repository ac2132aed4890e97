"""Typed keys for state on the aiohttp application and request (aiohttp `AppKey`)."""
from __future__ import annotations

from aiohttp import web

from pufferd.context import Context

CTX = web.AppKey("ctx", Context)
USER = "pufferd.user"      # request[USER]: the authenticated users_q.User
CLAIMS = "pufferd.claims"  # request[CLAIMS]: the access token's tokens.Claims
