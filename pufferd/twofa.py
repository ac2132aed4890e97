"""Two-factor authentication with TOTP (RFC 6238 via pyotp), API reference section 5.

The secret is stored sealed with AES-GCM under a key derived from keys/master.key and bound to
the user id, so neither a copy of the database nor a log line reveals it. A code is accepted for
the current 30-second step and one step either side; a step once accepted (users.twofa_last_step)
is never accepted again, so an observed code cannot be replayed.

A stolen access token must not be enough to take 2FA over (or off): enabling and disabling need
a login within `twofa_recent_login_seconds` (the token's `auth_time`; a refresh keeps the login's
time) or the account password. Enabling hands out RECOVERY_CODES one-time codes (stored as HMACs),
each accepted once instead of a TOTP code. The owner is mailed whenever 2FA goes on or off or a
recovery code is used. A password reset leaves 2FA as it is (a mailbox alone must not undo it);
the owner signs in with a recovery code, or an administrator runs `pufferd admin reset-2fa`.

Wrong codes are counted per account as well as limited per client IP: `twofa_max_failures` (5)
within `twofa_lockout_seconds` (15 minutes) refuse every code, right or wrong, for that long
(429 with Retry-After), and the owner is mailed, since whoever typed them knows the password.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import secrets
from dataclasses import dataclass

import apsw

from pufferd import audit, mail
from pufferd.audit import ClientInfo
from pufferd.config import Settings
from pufferd.context import Context
from pufferd.db import twofa_q, users_q
from pufferd.db.users_q import User
from pufferd.errors import BadRequest, Forbidden, RateLimited
from pufferd.tokens import Claims

KEY_PURPOSE = "totp secrets"
RECOVERY_KEY_PURPOSE = "2fa recovery codes"
STEP_SECONDS = 30
DRIFT_STEPS = 1
_SEALED_PREFIX = "v1."
RECOVERY_CODES = 10
# 31 letters and digits without 0/o and 1/i/l (read off paper); 10 of them: about 49 bits a code
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
TOTP, RECOVERY = "totp", "recovery"  # what accept_any_code_txn accepted
PASSWORD_WRONG = "Incorrect password"


class CodesLocked(RateLimited):
    """429: too many wrong 2FA codes for this account; no code is taken until Retry-After."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(math.ceil(retry_after))
        minutes = math.ceil(self.retry_after / 60)
        self.detail = (f"Too many wrong 2FA codes: 2FA codes for this account are refused for"
                       f" {minutes} more minute{'s' if minutes != 1 else ''}")


@dataclass(frozen=True, slots=True)
class CodeKeys:
    """The keys 2FA codes are checked with: the TOTP secrets' and the recovery codes'."""

    totp: bytes
    recovery: bytes

    @classmethod
    def of(cls, ctx: Context) -> CodeKeys:
        return cls(ctx.keys.derive(KEY_PURPOSE), ctx.keys.derive(RECOVERY_KEY_PURPOSE))


@dataclass(frozen=True, slots=True)
class Setup:
    secret: str
    otpauth_url: str


def _aad(user_id: int) -> bytes:
    return f"pufferd totp secret of user {user_id}".encode()


def seal(key: bytes, user_id: int, secret: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # on first use (issue 17)

    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), _aad(user_id))
    return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: bytes, user_id: int, stored: str) -> str | None:
    """The plain secret, or None when STORED is not a secret sealed for this user with KEY."""
    if not stored.startswith(_SEALED_PREFIX):
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.urlsafe_b64decode(stored[len(_SEALED_PREFIX):])
        return AESGCM(key).decrypt(raw[:12], raw[12:], _aad(user_id)).decode()
    except (ValueError, InvalidTag):
        return None


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (within ±DRIFT_STEPS of NOW) whose code is CODE, else None."""
    import pyotp

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


def new_recovery_codes(n: int = RECOVERY_CODES) -> list[str]:
    """N random codes, written xxxxx-xxxxx."""
    def half() -> str:
        return "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5))
    return [f"{half()}-{half()}" for _ in range(n)]


def recovery_hash(key: bytes, user_id: int, code: str) -> str:
    """What is stored for a recovery code: case, spaces and the dash do not matter."""
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hmac.new(key, f"{user_id}:{normal}".encode(), hashlib.sha256).hexdigest()


def accept_any_code_txn(conn: apsw.Connection, keys: CodeKeys, user: User, code: str, now: float) -> str | None:
    """TOTP when CODE is USER's current TOTP code (its step is spent), RECOVERY when it is one of
    their unused recovery codes (used up now), else None."""
    if len(code) == 6 and code.isascii() and code.isdigit():
        return TOTP if accept_code_txn(conn, keys.totp, user, code, now) else None
    return RECOVERY if twofa_q.take_recovery_code(conn, user.id, recovery_hash(keys.recovery, user.id, code)) else None


def locked_until_txn(conn: apsw.Connection, user_id: int, now: float) -> float | None:
    """When the user's lock-out ends, if one holds at NOW."""
    state = twofa_q.get_failures(conn, user_id)
    if state is None or state.locked_until is None or state.locked_until <= now:
        return None
    return state.locked_until


def wrong_code_txn(conn: apsw.Connection, settings: Settings, user_id: int, now: float) -> float | None:
    """Count one wrong code of the user; when it is the one that starts a lock-out, its end."""
    limit, window = settings.twofa_max_failures, settings.twofa_lockout_seconds
    if limit <= 0:
        return None
    state = twofa_q.get_failures(conn, user_id)
    if state is None or state.locked_until is not None or now - state.first_at >= window:
        failures, first_at = 1, now  # a new window (an earlier lock-out is over: not locked here)
    else:
        failures, first_at = state.failures + 1, state.first_at
    if failures >= limit:
        twofa_q.put_failures(conn, user_id, twofa_q.Failures(0, now, now + window))
        return now + window
    twofa_q.put_failures(conn, user_id, twofa_q.Failures(failures, first_at, None))
    return None


def _key(ctx: Context) -> bytes:
    return ctx.keys.derive(KEY_PURPOSE)


async def confirm_sign_in(ctx: Context, user: User, claims: Claims, password: str | None) -> None:
    """403 unless the caller proves they are the account holder, not just a token holder: by
    PASSWORD when given (it must be right), else by a login within twofa_recent_login_seconds."""
    if password is not None:
        if not await ctx.hasher.verify(password, user.password_hash):
            raise Forbidden(PASSWORD_WRONG)
        return
    window = ctx.settings.twofa_recent_login_seconds
    if claims.auth_time is None or ctx.clock.time() - claims.auth_time > window:
        raise Forbidden(f"Sign in again, or send your password, to change 2FA: the last sign-in was more"
                        f" than {_duration(window)} ago")


def _duration(seconds: int) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        n = seconds // 60
        return f"{n} minute{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def notify(ctx: Context, user: User, subject: str, body: str) -> None:
    """Mail USER about a change to their sign-in, after the answer; no mailer, no mail."""
    if ctx.mailer is None:
        return
    message = mail.compose(ctx.settings, user.email, subject, f"Hello {user.name},\n\n{body}")
    ctx.mail_tasks.start(ctx.mailer.send(message), "2FA notice")


def _if_not_you(ctx: Context) -> str:
    return ("If this was not you, someone else can sign in to your account: reset your password at once"
            " (that signs out every device) and ask the administrator of"
            f" {ctx.settings.server_name} to turn two-factor authentication off for you"
            " (pufferd admin reset-2fa).\n")


def mail_enabled(ctx: Context, user: User) -> None:
    s = ctx.settings
    notify(ctx, user, f"Two-factor authentication is on for your {s.server_name} account",
           f"Two-factor authentication was turned on for your {s.server_name} account"
           f" ({user.username}). Signing in now needs a code from your authenticator app, or one"
           f" of the {RECOVERY_CODES} recovery codes shown when it was turned on.\n\n" + _if_not_you(ctx))


def mail_disabled(ctx: Context, user: User) -> None:
    s = ctx.settings
    notify(ctx, user, f"Two-factor authentication is off for your {s.server_name} account",
           f"Two-factor authentication was turned off for your {s.server_name} account"
           f" ({user.username}): signing in needs only your password now.\n\nIf this was not you,"
           " reset your password at once (that signs out every device) and turn two-factor"
           " authentication on again.\n")


def mail_locked(ctx: Context, user: User, until: float) -> None:
    s = ctx.settings
    minutes = max(1, round((until - ctx.clock.time()) / 60))
    notify(ctx, user, f"Sign-in to {s.server_name} locked after wrong 2FA codes",
           f"{s.twofa_max_failures} wrong two-factor codes were entered for your {s.server_name}"
           f" account ({user.username}), after the right password. For the next {minutes} minutes"
           " no code is accepted, not even the right one.\n\nIf this was not you, someone knows your"
           " password: change it (reset it by mail; that signs out every device).\n")


def mail_recovery_code_used(ctx: Context, user: User, left: int) -> None:
    s = ctx.settings
    notify(ctx, user, f"A recovery code was used to sign in to {s.server_name}",
           f"A recovery code was used to sign in to your {s.server_name} account ({user.username});"
           f" {left} of your recovery codes {'is' if left == 1 else 'are'} left. Turning two-factor"
           " authentication off and on again gives you new ones.\n\n" + _if_not_you(ctx))


async def setup(ctx: Context, user: User) -> Setup:
    """Start (or restart) enrolment: a new secret, stored sealed, not active until `enable`."""
    import pyotp

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


async def enable(ctx: Context, user: User, claims: Claims, code: str, password: str | None,
                 client: ClientInfo) -> list[str]:
    """Turn 2FA on once the user proves their authenticator has the secret (and that they signed
    in recently, or knows the password); return the new recovery codes."""
    ctx.limiter.hit("2fa", str(user.id), ctx.settings.login_rate_limit_per_minute)
    await confirm_sign_in(ctx, user, claims, password)
    keys, now = CodeKeys.of(ctx), ctx.clock.time()
    codes = new_recovery_codes()
    hashes = [recovery_hash(keys.recovery, user.id, c) for c in codes]

    def enable_txn(conn: apsw.Connection) -> str | None:
        fresh = users_q.get(conn, user.id)
        if fresh is None:
            return "Invalid 2FA code"
        if fresh.twofa_enabled:
            return "2FA is already enabled"
        if not fresh.twofa_secret:
            return "2FA setup has not been started: call /auth/2fa/setup first"
        if not accept_code_txn(conn, keys.totp, fresh, code, now):
            return "Invalid 2FA code"
        users_q.set_twofa_enabled(conn, user.id, now)
        twofa_q.replace_recovery_codes(conn, user.id, hashes, now)
        audit.record(conn, "twofa_enabled", client=client, user_id=user.id, now=now,
                     detail={"recovery_codes": len(hashes)})
        return None

    problem = await ctx.db.write(enable_txn)
    if problem:
        raise BadRequest(problem)
    ctx.auth_cache.invalidate(user.id)
    mail_enabled(ctx, user)
    return codes


async def disable(ctx: Context, user: User, claims: Claims, code: str, password: str | None,
                  client: ClientInfo) -> None:
    """Turn 2FA off; needs a valid current code or a recovery code, and a recent sign-in or the
    password."""
    ctx.limiter.hit("2fa", str(user.id), ctx.settings.login_rate_limit_per_minute)
    await confirm_sign_in(ctx, user, claims, password)
    keys, now = CodeKeys.of(ctx), ctx.clock.time()
    locked_until: float | None = None
    locked_now = False

    def disable_txn(conn: apsw.Connection) -> str | None:
        nonlocal locked_until, locked_now
        fresh = users_q.get(conn, user.id)
        if fresh is None or not fresh.twofa_enabled:
            return "2FA is not enabled"
        locked_until = locked_until_txn(conn, user.id, now)
        if locked_until is not None:
            return "locked"
        used = accept_any_code_txn(conn, keys, fresh, code, now)
        if used is None:
            locked_until = wrong_code_txn(conn, ctx.settings, user.id, now)
            if locked_until is not None:
                locked_now = True
                audit.record(conn, "twofa_locked", client=client, user_id=user.id, now=now,
                             detail={"failures": ctx.settings.twofa_max_failures, "until": locked_until})
                return "locked"
            return "Invalid 2FA code"
        users_q.set_twofa(conn, user.id, enabled=False, secret=None, last_step=None, now=now)
        twofa_q.delete_recovery_codes(conn, user.id)
        twofa_q.clear_failures(conn, user.id)
        audit.record(conn, "twofa_disabled", client=client, user_id=user.id, now=now, detail={"with": used})
        return None

    problem = await ctx.db.write(disable_txn)
    if locked_now and locked_until is not None:
        mail_locked(ctx, user, locked_until)
    if problem == "locked" and locked_until is not None:
        raise CodesLocked(locked_until - now)
    if problem:
        raise BadRequest(problem)
    ctx.auth_cache.invalidate(user.id)
    mail_disabled(ctx, user)
