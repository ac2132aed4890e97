"""Accounts (API reference section 5): registration, login, token refresh with rotation, sessions,
e-mail verification and password reset.

Tokens (DESIGN.md "Security"): a login creates a session whose id is the jti of its first refresh
token; every access token carries that id as `sid`. Each refresh rotates the refresh token; a
refresh token presented again after rotation means it was copied, so the whole session is revoked
(theft detection). Revoking all sessions moves users.tokens_valid_after, which refuses every older
access token, and asks the realtime layer to close the user's sockets. Ending one session (a
sign-out, or theft detection) closes that session's sockets and voids its signed download URLs.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import apsw

from pufferd import audit, invites, mail, moderation, tokens, twofa
from pufferd.audit import ClientInfo
from pufferd.context import Context
from pufferd.db import accounts_q, twofa_q, users_q
from pufferd.db.users_q import User
from pufferd.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unavailable

BAD_CREDENTIALS = "Incorrect email or password"
OTP_REQUIRED = "2FA code required: repeat the login with otp_code"
OTP_INVALID = "Invalid 2FA code"
VERIFY_SENT = "If the address belongs to an unverified account, a verification e-mail has been sent"
RESET_SENT = "If the address belongs to an account, a password reset e-mail has been sent"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


@dataclass(frozen=True, slots=True)
class SessionView:
    """One entry of GET /auth/sessions."""

    jti: str
    created_at: float
    ip_address: str | None
    user_agent: str | None
    current: bool
    token_type: str  # "refresh" | "access"


def _new_secret() -> tuple[str, str]:
    """A random single-use token for a mail link and the hash that is stored instead."""
    token = secrets.token_urlsafe(32)
    return token, _hash_secret(token)


def _hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue_pair(ctx: Context, user_id: int, session_id: str, refresh_jti: str, now: float,
                auth_time: float) -> TokenPair:
    """Tokens of a session; AUTH_TIME is when its login happened (twofa.py: recent sign-in)."""
    key, s = ctx.keys.jwt, ctx.settings
    access, _ = tokens.issue(key, user_id=user_id, token_type="access", now=now,
                             ttl=s.access_token_ttl_seconds, session_jti=session_id, auth_time=auth_time)
    refresh, _ = tokens.issue(key, user_id=user_id, token_type="refresh", now=now, auth_time=auth_time,
                              ttl=s.refresh_token_ttl_seconds, session_jti=session_id, jti=refresh_jti)
    return TokenPair(access, refresh)


async def _send(ctx: Context, to: str, subject: str, body: str) -> None:
    if ctx.mailer is None:
        raise Unavailable(mail.UNAVAILABLE)
    await ctx.mailer.send(mail.compose(ctx.settings, to, subject, body))


async def _probe_mail(ctx: Context) -> None:
    """Whether mail can go out at all (503 if not), asked the same way for every address."""
    if ctx.mailer is None:
        raise Unavailable(mail.UNAVAILABLE)
    await ctx.mailer.probe()


def _link(ctx: Context, path: str, token: str) -> str:
    return f"{ctx.settings.base_url}{path}?token={quote(token)}"


def _hours(seconds: int) -> str:
    return f"{seconds // 3600} hours" if seconds >= 7200 else f"{max(1, seconds // 60)} minutes"


async def _send_verification(ctx: Context, user: User, token: str) -> None:
    s = ctx.settings
    await _send(ctx, user.email, f"Confirm your e-mail address for {s.server_name}",
                f"Hello {user.name},\n\nplease confirm your e-mail address for {s.server_name} by opening"
                f" this link:\n\n{_link(ctx, '/verify-email', token)}\n\nThe link works once and expires in"
                f" {_hours(s.email_verification_ttl_seconds)}. If you did not create an account, ignore"
                " this message.\n")


async def _send_reset(ctx: Context, user: User, token: str) -> None:
    s = ctx.settings
    await _send(ctx, user.email, f"Reset your {s.server_name} password",
                f"Hello {user.name},\n\nsomeone asked to reset the password of your {s.server_name}"
                f" account. To choose a new password, open this link:\n\n"
                f"{_link(ctx, '/reset-password', token)}\n\nThe link works once and expires in"
                f" {_hours(s.password_reset_ttl_seconds)}. Resetting signs out every device. If you"
                " did not ask for this, ignore this message: your password stays as it is.\n")


# registration and e-mail verification --------------------------------------------------------
async def register(ctx: Context, *, email: str, username: str, name: str, password: str,
                   client: ClientInfo, invite_code: str | None = None) -> User:
    """Create an account and mail a verification link; 409 when the e-mail or username is taken,
    403 when the registration mode or account limit refuses it (pufferd/invites.py)."""
    s = ctx.settings
    ctx.limiter.hit("register", client.rate_key, s.register_rate_limit_per_minute)
    pw_hash = await ctx.hasher.hash(password)
    token, token_hash = _new_secret()
    now = ctx.clock.time()

    def register_txn(conn: apsw.Connection) -> User:
        invite = invites.admit_txn(conn, ctx.settings, invite_code, now)
        if users_q.email_taken(conn, email):
            raise Conflict("Email already registered")
        if users_q.username_taken(conn, username):
            raise Conflict("Username already taken")
        user = users_q.insert(conn, email=email, username=username, name=name, password_hash=pw_hash, now=now)
        invites.joined_txn(conn, invite, user.id, now)
        accounts_q.replace_account_token(conn, token_hash=token_hash, user_id=user.id, purpose="verify_email",
                                         now=now, expires_at=now + s.email_verification_ttl_seconds)
        audit.record(conn, "register", client=client, user_id=user.id, now=now,
                     detail={"username": username, "invite_id": invite.id if invite else None})
        return user

    user = await ctx.db.write(register_txn)
    try:
        await _send_verification(ctx, user, token)
    except Unavailable:
        # a failed request changes nothing: without the mail the account could never be verified
        def undo_txn(conn: apsw.Connection) -> None:
            users_q.delete(conn, user.id)
            audit.record(conn, "register_rolled_back", client=client, user_id=user.id, now=ctx.clock.time(),
                         detail={"reason": "mail unavailable"})
        await ctx.db.write(undo_txn)
        raise
    return user


async def verify_email(ctx: Context, token: str, client: ClientInfo) -> None:
    """Mark the address verified; the token works once and only before it expires."""
    token_hash, now = _hash_secret(token), ctx.clock.time()

    def verify_txn(conn: apsw.Connection) -> int | None:
        found = accounts_q.take_account_token(conn, token_hash, "verify_email")
        if found is None or found.expires_at <= now:
            return None
        users_q.set_email_verified(conn, found.user_id, now)
        audit.record(conn, "email_verified", client=client, user_id=found.user_id, now=now)
        return found.user_id

    user_id = await ctx.db.write(verify_txn)
    if user_id is None:
        raise BadRequest("Invalid or expired verification token")
    ctx.auth_cache.invalidate(user_id)


async def resend_verification(ctx: Context, email: str, client: ClientInfo) -> None:
    """Mail a fresh verification link (earlier links stop working); silent for unknown addresses.

    What the caller waits for is the same for every address (the rate limit, and whether mail
    can go out at all: 503 if not); the rest happens after the answer (`_mail_verification`).
    """
    ctx.limiter.hit("reset", client.rate_key, ctx.settings.reset_rate_limit_per_minute)
    await _probe_mail(ctx)
    ctx.mail_tasks.start(_mail_verification(ctx, email), "resend-verification")


async def _mail_verification(ctx: Context, email: str) -> None:
    s = ctx.settings
    user = await ctx.db.read(lambda conn: users_q.get_by_email(conn, email))
    if user is None or user.email_verified or user.is_disabled:
        return
    token, token_hash = _new_secret()
    now = ctx.clock.time()
    await ctx.db.write(lambda conn: accounts_q.replace_account_token(
        conn, token_hash=token_hash, user_id=user.id, purpose="verify_email", now=now,
        expires_at=now + s.email_verification_ttl_seconds))
    await _send_verification(ctx, user, token)


# password reset ------------------------------------------------------------------------------
async def request_password_reset(ctx: Context, email: str, client: ClientInfo) -> None:
    """Mail a reset link valid for one use; the same answer, in the same time, for unknown addresses.

    The caller waits only for what is the same for every address (the rate limit, and whether
    mail can go out at all: 503 if not); the rest happens after the answer (`_mail_reset`).
    """
    ctx.limiter.hit("reset", client.rate_key, ctx.settings.reset_rate_limit_per_minute)
    await _probe_mail(ctx)
    ctx.mail_tasks.start(_mail_reset(ctx, email, client), "request-password-reset")


async def _mail_reset(ctx: Context, email: str, client: ClientInfo) -> None:
    s = ctx.settings
    user = await ctx.db.read(lambda conn: users_q.get_by_email(conn, email))
    if user is None or user.is_disabled:
        return
    token, token_hash = _new_secret()
    now = ctx.clock.time()

    def request_txn(conn: apsw.Connection) -> None:
        accounts_q.replace_account_token(conn, token_hash=token_hash, user_id=user.id, purpose="reset_password",
                                         now=now, expires_at=now + s.password_reset_ttl_seconds)
        audit.record(conn, "password_reset_requested", client=client, user_id=user.id, now=now)

    await ctx.db.write(request_txn)
    try:
        await _send_reset(ctx, user, token)
    except Unavailable:
        # the link never left: it must not work (a later request mails a new one)
        await ctx.db.write(lambda conn: accounts_q.delete_account_tokens(conn, user.id, "reset_password"))
        raise


async def reset_password(ctx: Context, token: str, new_password: str, client: ClientInfo) -> None:
    """Set a new password with a mailed token; signs out every session of the account."""
    ctx.limiter.hit("reset", client.rate_key, ctx.settings.reset_rate_limit_per_minute)
    pw_hash = await ctx.hasher.hash(new_password)
    token_hash, now = _hash_secret(token), ctx.clock.time()

    def reset_txn(conn: apsw.Connection) -> int | None:
        found = accounts_q.take_account_token(conn, token_hash, "reset_password")
        if found is None or found.expires_at <= now:
            return None
        user = users_q.get(conn, found.user_id)
        if user is None or user.is_disabled:
            return None
        users_q.set_password(conn, user.id, pw_hash, now)
        users_q.set_email_verified(conn, user.id, now)  # the link reached the mailbox
        revoked = accounts_q.revoke_all_sessions(conn, user.id, now, "password_reset")
        audit.record(conn, "password_reset", client=client, user_id=user.id, now=now,
                     detail={"sessions_revoked": revoked})
        return user.id

    user_id = await ctx.db.write(reset_txn)
    if user_id is None:
        raise BadRequest("Invalid or expired reset token")
    ctx.auth_cache.invalidate(user_id)
    ctx.hooks.revoke_sessions(user_id)


# login and tokens ----------------------------------------------------------------------------
async def login(ctx: Context, *, email: str, password: str, otp_code: str | None,
                client: ClientInfo) -> TokenPair:
    """Check the password (and, when 2FA is on, a TOTP code or a one-time recovery code) and open
    a new session.

    Unknown e-mails and wrong passwords take the same path (a bcrypt check, one audit write) and
    give the same 401 detail, so neither the answer nor its timing tells whether an account exists.
    """
    s = ctx.settings
    ctx.limiter.hit("login", client.rate_key, s.login_rate_limit_per_minute)
    user = await ctx.db.read(lambda conn: users_q.get_by_email(conn, email))
    password_ok = await ctx.hasher.verify(password, user.password_hash if user else None)
    now = ctx.clock.time()
    session_id = str(uuid.uuid4())
    keys = twofa.CodeKeys.of(ctx)
    recovery_left: int | None = None  # set when a recovery code was used: how many are left
    locked_until: float | None = None  # set when wrong codes have locked the account's 2FA

    banned = ""

    def login_txn(conn: apsw.Connection) -> str | None:
        nonlocal banned, recovery_left, locked_until
        fresh = users_q.get(conn, user.id) if user is not None and password_ok else None
        reason = None
        used = None
        if fresh is None:
            reason = "unknown_email" if user is None else "bad_password"
        elif fresh.is_disabled:
            reason = "disabled"
        elif fresh.banned_at is not None:  # told only to whoever knows the password
            reason, banned = "banned", moderation.banned_detail(fresh)
        elif s.require_verified_email and not fresh.email_verified:
            reason = "unverified"
        elif fresh.twofa_enabled and (locked_until := twofa.locked_until_txn(conn, fresh.id, now)) is not None:
            reason = "otp_locked"
        elif fresh.twofa_enabled and not otp_code:
            reason = "otp_required"
        elif fresh.twofa_enabled and (used := twofa.accept_any_code_txn(conn, keys, fresh, otp_code or "",
                                                                         now)) is None:
            reason = "otp_invalid"
            locked_until = twofa.wrong_code_txn(conn, s, fresh.id, now)
            if locked_until is not None:
                reason = "otp_locked_now"
                audit.record(conn, "twofa_locked", client=client, user_id=fresh.id, now=now,
                             detail={"failures": s.twofa_max_failures, "until": locked_until})
        if reason is not None:
            audit.record(conn, "login_failed", client=client, now=now,
                         user_id=user.id if user is not None else None,
                         detail={"reason": reason, **({"email": email} if user is None else {})})
            return reason
        assert fresh is not None  # every path without a refusal had a user
        accounts_q.prune_expired(conn, fresh.id, now)
        accounts_q.insert_session(conn, session_id=session_id, user_id=fresh.id,
                                  ip_address=client.ip, user_agent=client.user_agent, now=now,
                                  expires_at=now + s.refresh_token_ttl_seconds)
        if used is not None:
            twofa_q.clear_failures(conn, fresh.id)
        if used == twofa.RECOVERY:
            recovery_left = twofa_q.recovery_codes_left(conn, fresh.id)
        audit.record(conn, "login_succeeded", client=client, user_id=fresh.id, now=now,
                     detail={"session": session_id,
                             **({"recovery_code": True, "recovery_codes_left": recovery_left}
                                if recovery_left is not None else {})})
        return None

    reason = await ctx.db.write(login_txn)
    if reason in ("unknown_email", "bad_password"):
        raise Unauthorized(BAD_CREDENTIALS)
    if reason == "disabled":
        raise Forbidden("Account is disabled")
    if reason == "banned":
        raise Forbidden(banned)
    if reason == "unverified":
        raise Forbidden("Email not verified: open the link in the verification e-mail first")
    if reason == "otp_required":
        raise Unauthorized(OTP_REQUIRED)
    if reason == "otp_invalid":
        raise Unauthorized(OTP_INVALID)
    assert user is not None  # an unknown e-mail was refused above
    if reason in ("otp_locked", "otp_locked_now") and locked_until is not None:
        if reason == "otp_locked_now":
            twofa.mail_locked(ctx, user, locked_until)
        raise twofa.CodesLocked(locked_until - now)
    if recovery_left is not None:
        twofa.mail_recovery_code_used(ctx, user, recovery_left)
    return _issue_pair(ctx, user.id, session_id, session_id, now, now)


async def refresh(ctx: Context, refresh_token: str, client: ClientInfo) -> TokenPair:
    """Exchange a refresh token for a new pair; the presented token can never be used again."""
    s = ctx.settings
    ctx.limiter.hit("refresh", client.rate_key, s.refresh_rate_limit_per_minute)
    now = ctx.clock.time()
    claims = tokens.decode(ctx.keys.jwt, refresh_token, expected_type="refresh", now=now)
    if claims.session_jti is None:
        raise Unauthorized("Invalid token")
    new_jti = str(uuid.uuid4())
    revoked_user: int | None = None
    signed_in_at = 0.0

    def refresh_txn(conn: apsw.Connection) -> str | None:
        nonlocal revoked_user, signed_in_at
        revoked_user = None
        found = accounts_q.get_refresh_token(conn, claims.jti)
        if found is None or found.session.id != claims.session_jti or found.session.user_id != claims.user_id:
            return "Invalid token"
        session = found.session
        if session.revoked_at is not None:
            return "Session revoked"
        if found.rotated_at is not None:
            accounts_q.revoke_session(conn, session.id, now, "reuse_detected")
            revoked_user = session.user_id
            audit.record(conn, "refresh_reuse_detected", client=client, user_id=session.user_id, now=now,
                         detail={"session": session.id})
            return "Refresh token reuse detected: the session has been revoked"
        user = users_q.get(conn, session.user_id)
        if user is None or user.is_disabled:
            return "Invalid token"
        if claims.issued_at < user.tokens_valid_after:
            return "Token revoked"
        accounts_q.rotate(conn, old_jti=claims.jti, new_jti=new_jti, session_id=session.id, now=now,
                          expires_at=now + s.refresh_token_ttl_seconds, ip_address=client.ip,
                          user_agent=client.user_agent)
        signed_in_at = session.created_at  # a session begins with its login: a refresh is no sign-in
        return None

    problem = await ctx.db.write(refresh_txn)
    if revoked_user is not None:
        ctx.auth_cache.invalidate(revoked_user)
        ctx.hooks.revoke_sessions(revoked_user, session=claims.session_jti)
    if problem:
        raise Unauthorized(problem)
    return _issue_pair(ctx, claims.user_id, claims.session_jti, new_jti, now, signed_in_at)


# sessions ------------------------------------------------------------------------------------
async def list_sessions(ctx: Context, user: User, claims: tokens.Claims, client: ClientInfo) -> list[SessionView]:
    """The caller's active refresh sessions, after a synthetic entry for the access token in use
    (API reference section 5: listed so that a client always sees its current device)."""
    now = ctx.clock.time()
    rows = await ctx.db.read(lambda conn: accounts_q.active_sessions(conn, user.id, now))
    current = SessionView(claims.jti, claims.issued_at, client.ip, client.user_agent, True, "access")
    return [current] + [SessionView(r.id, r.created_at, r.ip_address, r.user_agent,
                                    r.id == claims.session_jti, "refresh") for r in rows]


async def revoke_session(ctx: Context, user: User, claims: tokens.Claims, jti: str, client: ClientInfo) -> None:
    """End one session: a refresh session by its jti (its access tokens stop working too), or the
    access token in use by its own jti (with the session it belongs to). The session's sockets
    close (4001) and its signed download URLs stop working."""
    now = ctx.clock.time()
    ended = jti

    def revoke_txn(conn: apsw.Connection) -> bool:
        nonlocal ended
        if jti == claims.jti:
            accounts_q.revoke_access_token(conn, jti, user.id, claims.expires_at)
            if claims.session_jti:
                accounts_q.revoke_session(conn, claims.session_jti, now, "logout")
                ended = claims.session_jti
        else:
            session = accounts_q.get_session(conn, jti)
            if session is None or session.user_id != user.id or session.revoked_at is not None \
                    or session.expires_at <= now:
                return False
            accounts_q.revoke_session(conn, jti, now, "logout")
        audit.record(conn, "session_revoked", client=client, user_id=user.id, now=now, detail={"jti": jti})
        return True

    if not await ctx.db.write(revoke_txn):
        raise NotFound("Session not found")
    ctx.auth_cache.invalidate(user.id)
    ctx.hooks.revoke_sessions(user.id, session=ended)


async def revoke_all_sessions(ctx: Context, user: User, client: ClientInfo) -> None:
    """Revoke every refresh session, refuse every access token issued before now, close sockets."""
    now = ctx.clock.time()

    def revoke_all_txn(conn: apsw.Connection) -> None:
        users_q.revoke_tokens_before(conn, user.id, now)
        revoked = accounts_q.revoke_all_sessions(conn, user.id, now, "logout_all")
        audit.record(conn, "sessions_revoked_all", client=client, user_id=user.id, now=now,
                     detail={"sessions_revoked": revoked})

    await ctx.db.write(revoke_all_txn)
    ctx.auth_cache.invalidate(user.id)
    ctx.hooks.revoke_sessions(user.id)
