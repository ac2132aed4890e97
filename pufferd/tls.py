"""TLS for `pufferd serve`: the server's SSLContext, loaded from PEM files and reloaded in place.

One SSLContext serves every connection. Reloading calls `load_cert_chain` on that same context:
OpenSSL copies the certificate into each connection when its handshake starts, so connections
already open keep theirs and every new handshake gets the new one (nothing is dropped).
"""
from __future__ import annotations

import datetime
import os
import ssl
import tempfile
from pathlib import Path


class TLSError(Exception):
    """A certificate or key cannot be used; the message is one line naming the file."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def new_context() -> ssl.SSLContext:
    """A server context with TLS 1.2 as the floor and HTTP/1.1 offered by ALPN."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def check_files(cert_file: Path, key_file: Path) -> None:
    """Raise TLSError unless CERT_FILE and KEY_FILE load, match, and the certificate is in date."""
    try:
        # a throwaway context: a failed load must never leave the live one half replaced
        new_context().load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise TLSError(f"cannot use TLS certificate {cert_file} with key {key_file}: {_describe(exc)}") from None
    not_after = not_valid_after(cert_file.read_bytes())
    if not_after <= datetime.datetime.now(datetime.UTC):
        raise TLSError(f"TLS certificate {cert_file} expired on {not_after:%Y-%m-%d %H:%M} UTC")


def load(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """The server context for CERT_FILE and KEY_FILE; TLSError when they cannot be used."""
    check_files(cert_file, key_file)
    ctx = new_context()
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def reload(ctx: ssl.SSLContext, cert_file: Path, key_file: Path) -> None:
    """Put CERT_FILE and KEY_FILE into CTX for new handshakes; on TLSError CTX is unchanged."""
    check_files(cert_file, key_file)
    ctx.load_cert_chain(cert_file, key_file)


def load_pem(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """Put a certificate chain and key held in memory into CTX (load_cert_chain reads files only)."""
    with tempfile.TemporaryDirectory(prefix="pufferd-tls-") as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_bytes(cert_pem)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key_pem)
        reload(ctx, cert_file, key_file)


def not_valid_after(cert_pem: bytes) -> datetime.datetime:
    from cryptography import x509

    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


def renew_at(cert_pem: bytes, fraction: float = 2 / 3) -> datetime.datetime:
    """When a certificate is due for renewal: FRACTION of the way through its validity."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * fraction


def self_signed(host: str, days: int = 7) -> tuple[bytes, bytes]:
    """A short-lived self-signed certificate and key for HOST (PEM), served until ACME delivers."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
