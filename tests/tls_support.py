"""Certificates for the HTTPS tests, made with `cryptography`: a self-signed one for loopback."""
from __future__ import annotations

import datetime
import ipaddress
import re
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PLAIN = re.compile(r"plain HTTP on (http://\S+):")


def self_signed(directory: Path, name: str = "pufferd test", *, days: int = 30) -> tuple[Path, Path]:
    """Write DIRECTORY/cert.pem and key.pem: a certificate for localhost and 127.0.0.1, CN NAME."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=max(1, 1 - days)))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


def trusting(*cafiles: Path) -> ssl.SSLContext:
    """A client context that trusts exactly CAFILES (and checks the host name)."""
    ctx = ssl.create_default_context(cafile=str(cafiles[0]))
    for extra in cafiles[1:]:
        ctx.load_verify_locations(cafile=str(extra))
    return ctx


def served_certificate(host: str, port: int, server_hostname: str | None = None) -> x509.Certificate:
    """The leaf certificate a new TLS handshake with HOST:PORT gets (not verified)."""
    import socket

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=server_hostname or host) as tls_sock:
        der = tls_sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)
