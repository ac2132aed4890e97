"""JWT (HS256) access and refresh tokens; the signing key lives in keys/jwt.key."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt

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


def issue(key: bytes, *, user_id: int, token_type: str, now: float, ttl: int,
          session_jti: str | None = None, jti: str | None = None) -> tuple[str, Claims]:
    """Sign a new token; return it with its claims."""
    claims = Claims(user_id, jti or str(uuid.uuid4()), token_type, now, now + ttl, session_jti)
    payload = {"sub": str(user_id), "jti": claims.jti, "typ": token_type,
               "iat": now, "exp": int(now + ttl)}
    if session_jti:
        payload["sid"] = session_jti
    return jwt.encode(payload, key, algorithm=ALGORITHM), claims


def decode(key: bytes, token: str, *, expected_type: str, now: float) -> Claims:
    """Verify signature, expiry and type; any failure is 401 with a clear detail."""
    try:
        payload = jwt.decode(token, key, algorithms=[ALGORITHM],
                             options={"require": ["sub", "jti", "typ", "exp", "iat"], "verify_exp": False})
    except jwt.PyJWTError:
        raise Unauthorized("Invalid token") from None
    if payload.get("typ") != expected_type:
        raise Unauthorized(f"Invalid token type: expected a {expected_type} token")
    if float(payload["exp"]) <= now:
        raise Unauthorized("Token expired")
    try:
        user_id = int(payload["sub"])
    except (TypeError, ValueError):
        raise Unauthorized("Invalid token") from None
    return Claims(user_id, str(payload["jti"]), payload["typ"], float(payload["iat"]),
                  float(payload["exp"]), payload.get("sid"))
