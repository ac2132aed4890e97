"""Two-factor authentication with TOTP (RFC 6238 via pyotp), API reference section 5.

The secret is stored sealed with AES-GCM under a key derived from keys/master.key and bound to
the user id, so neither a copy of the database nor a log line reveals it. A code is accepted for
the current 30-second step and one step either side; a step once accepted (users.twofa_last_step)
is never accepted again, so an observed code cannot be replayed.
"""
from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass

import apsw
import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pufferd import audit
from pufferd.audit import ClientInfo
from pufferd.context import Context
from pufferd.db import users_q
from pufferd.db.users_q import User
from pufferd.errors import BadRequest

KEY_PURPOSE = "totp secrets"
STEP_SECONDS = 30
DRIFT_STEPS = 1
_SEALED_PREFIX = "v1."


@dataclass(frozen=True, slots=True)
class Setup:
    secret: str
    otpauth_url: str


def _aad(user_id: int) -> bytes:
    return f"pufferd totp secret of user {user_id}".encode()


def seal(key: bytes, user_id: int, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), _aad(user_id))
    return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: bytes, user_id: int, stored: str) -> str | None:
    """The plain secret, or None when STORED is not a secret sealed for this user with KEY."""
    if not stored.startswith(_SEALED_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(stored[len(_SEALED_PREFIX):])
        return AESGCM(key).decrypt(raw[:12], raw[12:], _aad(user_id)).decode()
    except (ValueError, InvalidTag):
        return None


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (within ±DRIFT_STEPS of NOW) whose code is CODE, else None."""
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now // STEP_SECONDS)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # compare every candidate, so the time taken does not say which step matched
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def accept_code_txn(conn: apsw.Connection, key: bytes, user: User, code: str, now: float) -> bool:
    """Check CODE against USER's secret and consume its time step; False when wrong or replayed."""
    if not user.twofa_secret:
        return False
    secret = unseal(key, user.id, user.twofa_secret)
    if secret is None:
        return False
    step = matching_step(secret, code, now)
    if step is None or (user.twofa_last_step is not None and step <= user.twofa_last_step):
        return False
    users_q.set_twofa_last_step(conn, user.id, step)
    return True


def _key(ctx: Context) -> bytes:
    return ctx.keys.derive(KEY_PURPOSE)


async def setup(ctx: Context, user: User) -> Setup:
    """Start (or restart) enrolment: a new secret, stored sealed, not active until `enable`."""
    secret = pyotp.random_base32()
    sealed = seal(_key(ctx), user.id, secret)
    now = ctx.clock.time()

    def setup_txn(conn: apsw.Connection) -> bool:
        fresh = users_q.get(conn, user.id)
        if fresh is None or fresh.twofa_enabled:
            return False
        users_q.set_twofa(conn, user.id, enabled=False, secret=sealed, last_step=None, now=now)
        return True

    if not await ctx.db.write(setup_txn):
        raise BadRequest("2FA is already enabled")
    ctx.auth_cache.invalidate(user.id)
    url = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=ctx.settings.server_name)
    return Setup(secret, url)


async def enable(ctx: Context, user: User, code: str, client: ClientInfo) -> None:
    """Turn 2FA on once the user proves their authenticator has the secret."""
    ctx.limiter.hit("2fa", str(user.id), ctx.settings.login_rate_limit_per_minute)
    key, now = _key(ctx), ctx.clock.time()

    def enable_txn(conn: apsw.Connection) -> str | None:
        fresh = users_q.get(conn, user.id)
        if fresh is None:
            return "Invalid 2FA code"
        if fresh.twofa_enabled:
            return "2FA is already enabled"
        if not fresh.twofa_secret:
            return "2FA setup has not been started: call /auth/2fa/setup first"
        if not accept_code_txn(conn, key, fresh, code, now):
            return "Invalid 2FA code"
        users_q.set_twofa_enabled(conn, user.id, now)
        audit.record(conn, "twofa_enabled", client=client, user_id=user.id, now=now)
        return None

    problem = await ctx.db.write(enable_txn)
    if problem:
        raise BadRequest(problem)
    ctx.auth_cache.invalidate(user.id)


async def disable(ctx: Context, user: User, code: str, client: ClientInfo) -> None:
    """Turn 2FA off; needs a valid current code."""
    ctx.limiter.hit("2fa", str(user.id), ctx.settings.login_rate_limit_per_minute)
    key, now = _key(ctx), ctx.clock.time()

    def disable_txn(conn: apsw.Connection) -> str | None:
        fresh = users_q.get(conn, user.id)
        if fresh is None or not fresh.twofa_enabled:
            return "2FA is not enabled"
        if not accept_code_txn(conn, key, fresh, code, now):
            return "Invalid 2FA code"
        users_q.set_twofa(conn, user.id, enabled=False, secret=None, last_step=None, now=now)
        audit.record(conn, "twofa_disabled", client=client, user_id=user.id, now=now)
        return None

    problem = await ctx.db.write(disable_txn)
    if problem:
        raise BadRequest(problem)
    ctx.auth_cache.invalidate(user.id)
