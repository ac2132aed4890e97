"""The password policy (registration, reset, admin commands): one place, clear reasons."""
from __future__ import annotations

import unicodedata

from pufferd.passwords import BCRYPT_MAX_BYTES

PASSWORD_MIN_CHARS = 8
PASSWORD_MIN_DISTINCT = 4


def password_problem(password: str) -> str | None:
    """Why PASSWORD is not acceptable, or None.

    The upper bound is bcrypt's: it reads at most 72 bytes, so the limit is in UTF-8 bytes,
    not characters (NOTES-deps.md).
    """
    if len(password) < PASSWORD_MIN_CHARS:
        return f"Password must be at least {PASSWORD_MIN_CHARS} characters long"
    if len(password.encode()) > BCRYPT_MAX_BYTES:
        return f"Password must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8"
    if any(unicodedata.category(ch) == "Cc" for ch in password):
        return "Password must not contain control characters"
    if len(set(password)) < PASSWORD_MIN_DISTINCT:
        return f"Password is too simple: use at least {PASSWORD_MIN_DISTINCT} different characters"
    return None
