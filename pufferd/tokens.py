"""JWT (HS256) access and refresh tokens; the signing key lives in keys/jwt.key."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from pufferd.errors import Unauthorized

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: int
    jti: str
    type: str  # "access" | "refresh"
    issued_at: float
    expires_at: float
    session_jti: str | None  # the refresh session an access token was issued with
    auth_time: float | None = None  # when the password (and 2FA) sign-in behind the token happened


def issue(key: bytes, *, user_id: int, token_type: str, now: float, ttl: int,
          session_jti: str | None = None, jti: str | None = None,
          auth_time: float | None = None) -> tuple[str, Claims]:
    """Sign a new token; return it with its claims. AUTH_TIME is the time of the login the
    token descends from (OpenID Connect's `auth_time`): a refresh keeps it."""
    claims = Claims(user_id, jti or str(uuid.uuid4()), token_type, now, now + ttl, session_jti, auth_time)
    payload: dict[str, str | float | int] = {"sub": str(user_id), "jti": claims.jti, "typ": token_type,
                                             "iat": now, "exp": int(now + ttl)}
    if session_jti:
        payload["sid"] = session_jti
    if auth_time is not None:
        payload["auth_time"] = auth_time
    import jwt  # PyJWT loads cryptography (≈ 9 MB): on the first token, not at start-up (issue 17)

    return jwt.encode(payload, key, algorithm=ALGORITHM), claims


def decode(key: bytes, token: str, *, expected_type: str, now: float) -> Claims:
    """Verify signature, expiry and type; any failure is 401 with a clear detail.

    Times are checked here against NOW (the injected clock), not by PyJWT against the wall clock.
    """
    import jwt

    try:
        payload = jwt.decode(token, key, algorithms=[ALGORITHM],
                             options={"require": ["sub", "jti", "typ", "exp", "iat"],
                                      "verify_exp": False, "verify_iat": False, "verify_nbf": False})
    except jwt.PyJWTError:
        raise Unauthorized("Invalid token") from None
    if payload.get("typ") != expected_type:
        article = "an" if expected_type[0] in "aeiou" else "a"
        raise Unauthorized(f"Invalid token type: expected {article} {expected_type} token")
    try:
        user_id = int(payload["sub"])
        issued_at, expires_at = float(payload["iat"]), float(payload["exp"])
    except (TypeError, ValueError, OverflowError):
        raise Unauthorized("Invalid token") from None
    jti, sid, auth_time = payload["jti"], payload.get("sid"), payload.get("auth_time")
    if not isinstance(jti, str) or not (sid is None or isinstance(sid, str)) \
            or not (auth_time is None or (isinstance(auth_time, (int, float)) and not isinstance(auth_time, bool))):
        raise Unauthorized("Invalid token")
    if expires_at <= now:
        raise Unauthorized("Token expired")
    return Claims(user_id, jti, payload["typ"], issued_at, expires_at, sid,
                  None if auth_time is None else float(auth_time))
