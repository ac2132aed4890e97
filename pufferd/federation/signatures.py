"""HTTP Signatures as fediverse servers sign and verify them (draft-cavage-http-signatures-12).

Outgoing requests sign `(request-target) host date` and, with a body, `digest` (RFC 3230
`SHA-256=<base64>`), with RSA PKCS#1 v1.5 over SHA-256, named `rsa-sha256` (`hs2019` is accepted
on input for RSA keys, as draft 12 section 2.1.3 lets the key decide the algorithm). Verifying
checks, in order: the signature header parses and covers the required headers; Date is within
MAX_SKEW_SECONDS; Digest equals the body; the signature verifies with the key. Pure functions: no
I/O, the caller fetches the key (pufferd/federation/inbox.py).
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

# cryptography (≈ 8 MB of RSS) is imported by the first signature, not with this module (issue 17)

MAX_SKEW_SECONDS = 300
ALGORITHMS = ("rsa-sha256", "hs2019")
_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*"([^"]*)"\s*(?:,|$)')


class SignatureError(Exception):
    """A request's signature is missing, malformed, stale or wrong (the inbox answers 401)."""


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    key_id: str
    algorithm: str
    headers: tuple[str, ...]
    signature: bytes


def digest(body: bytes) -> str:
    """The RFC 3230 Digest header value of BODY."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def request_target(method: str, url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{method.lower()} {path}?{parts.query}" if parts.query else f"{method.lower()} {path}"


def signing_string(names: tuple[str, ...], target: str, headers: Mapping[str, str]) -> bytes:
    lower = {k.lower(): v for k, v in headers.items()}
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {target}")
        elif name in lower:
            lines.append(f"{name}: {lower[name].strip()}")
        else:
            raise SignatureError(f"signed header {name!r} is missing from the request")
    return "\n".join(lines).encode()


def sign(private_key: rsa.RSAPrivateKey, key_id: str, method: str, url: str, body: bytes | None,
         now: float) -> dict[str, str]:
    """The headers to add to a request: Host, Date, Digest (with a body) and Signature."""
    headers = {"Host": urlsplit(url).netloc, "Date": formatdate(now, usegmt=True)}
    names = ["(request-target)", "host", "date"]
    if body is not None:
        headers["Digest"] = digest(body)
        names.append("digest")
    text = signing_string(tuple(names), request_target(method, url), headers)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    sig = base64.b64encode(private_key.sign(text, padding.PKCS1v15(), hashes.SHA256())).decode()
    headers["Signature"] = (f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(names)}",'
                            f'signature="{sig}"')
    return headers


def parse(headers: Mapping[str, str]) -> SignatureHeader:
    """The Signature header (or `Authorization: Signature ...`) of a request."""
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get("signature")
    if value is None and lower.get("authorization", "").startswith("Signature "):
        value = lower["authorization"][len("Signature "):]
    if not value:
        raise SignatureError("the request is not signed")
    params = {m.group(1): m.group(2) for m in _PARAM.finditer(value)}
    if "keyId" not in params or "signature" not in params:
        raise SignatureError("the Signature header needs keyId and signature")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    try:
        raw = base64.b64decode(params["signature"], validate=True)
    except ValueError:
        raise SignatureError("the signature is not base64") from None
    names = tuple(params.get("headers", "date").lower().split())
    return SignatureHeader(params["keyId"], algorithm, names, raw)


def verify(sig: SignatureHeader, public_key_pem: str, *, method: str, url: str, headers: Mapping[str, str],
           body: bytes, now: float, max_skew: float = MAX_SKEW_SECONDS) -> None:
    """Raise SignatureError unless SIG signs this request with the key and is fresh."""
    required = ["(request-target)", "host", "date"]
    if body or method.upper() == "POST":
        required.append("digest")
    missing = [n for n in required if n not in sig.headers]
    if missing:
        raise SignatureError(f"the signature must cover {', '.join(missing)}")
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        sent = parsedate_to_datetime(lower.get("date", "")).timestamp()
    except (TypeError, ValueError):
        raise SignatureError("the Date header is missing or malformed") from None
    if abs(now - sent) > max_skew:
        raise SignatureError("the Date header is more than 5 minutes off")
    if "digest" in sig.headers:
        given = {p.split("=", 1)[0].strip().lower(): p.split("=", 1)[1].strip()
                 for p in lower.get("digest", "").split(",") if "=" in p}
        if given.get("sha-256") != digest(body).split("=", 1)[1]:
            raise SignatureError("the Digest header does not match the body")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("only RSA keys are supported")
    text = signing_string(sig.headers, request_target(method, url), headers)
    try:
        key.verify(sig.signature, text, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError("the signature does not verify") from None


def new_key_pair() -> tuple[rsa.RSAPrivateKey, str]:
    """A fresh RSA-2048 key and its public PEM (SubjectPublicKeyInfo, as actor documents carry)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, pem


def private_pem(key: rsa.RSAPrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def load_private(pem: str) -> rsa.RSAPrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key
