"""HMAC-SHA256 signatures for short-lived URLs (presigned uploads and browser downloads).

Fields are length-prefixed before they are MACed, so no two different field lists can produce
the same signed message. The key comes from the master key (`Keys.derive("media url signing")`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac


class UrlSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("signing key must be at least 32 bytes")
        self._key = key

    def sign(self, *fields: str | int) -> str:
        msg = bytearray()
        for f in fields:
            raw = str(f).encode()
            msg += len(raw).to_bytes(4, "big") + raw
        mac = hmac.new(self._key, bytes(msg), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def verify(self, signature: str | None, *fields: str | int) -> bool:
        if not signature or len(signature) > 128:
            return False
        return hmac.compare_digest(signature.encode(), self.sign(*fields).encode())
