"""Certificates from an ACME CA (RFC 8555) with the HTTP-01 challenge, kept fresh in the background.

The protocol is spoken by `acme`, certbot's protocol library, imported only here and only when
`acme_enabled` is on: a server without ACME never pays its import (≈ 0.3–0.7 s here).

Files under DATA_DIR/acme/ (0700; keys 0600):
    account.key     the ACME account's private key (PEM, RSA 2048)
    DOMAIN.key      the certificate's private key (PEM, ECDSA P-256), new for every issuance
    DOMAIN.crt      the certificate chain the CA issued, leaf first (PEM)
"""
from __future__ import annotations

import asyncio
import datetime
import logging
import os
import ssl
import threading
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

from pufferd import __version__, tls
from pufferd.config import Settings

log = logging.getLogger("pufferd.acme")

# Renew at two thirds of the certificate's lifetime (60 of Let's Encrypt's 90 days), so a CA
# outage of weeks still leaves time. A failed attempt is retried after RETRY_FIRST seconds,
# doubling up to RETRY_MAX.
RENEW_FRACTION = 2 / 3
RETRY_FIRST = 60.0
RETRY_MAX = 6 * 3600.0
# sleep in slices, so a suspended machine or a changed clock is noticed within one
CHECK_SECONDS = 3600.0
ORDER_TIMEOUT = datetime.timedelta(seconds=120)

T = TypeVar("T")


class AcmeError(Exception):
    """A certificate could not be obtained; the message says why in one line."""


def acme_dir(settings: Settings) -> Path:
    return settings.data_dir / "acme"


def cert_path(settings: Settings) -> Path:
    return acme_dir(settings) / f"{settings.acme_domain}.crt"


def key_path(settings: Settings) -> Path:
    return acme_dir(settings) / f"{settings.acme_domain}.key"


def _write(path: Path, data: bytes, mode: int) -> None:
    """Replace PATH atomically with DATA, created with MODE (never readable by others meanwhile)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def stored(settings: Settings) -> tuple[bytes, bytes] | None:
    """The certificate chain and key saved by the last issuance, or None."""
    try:
        return cert_path(settings).read_bytes(), key_path(settings).read_bytes()
    except FileNotFoundError:
        return None


def _account_key(settings: Settings) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = acme_dir(settings) / "account.key"
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()), 0o600)
    return key


def issue(settings: Settings, challenges: MutableMapping[str, str]) -> tuple[bytes, bytes]:
    """Obtain a certificate for settings.acme_domain and save it; blocking (run it on a thread).

    CHALLENGES maps HTTP-01 tokens to key authorizations while the CA validates: the plain-HTTP
    port answers `/.well-known/acme-challenge/<token>` from it (RFC 8555, section 8.3).
    """
    import josepy
    from acme import challenges as acme_challenges
    from acme import client, crypto_util, errors, messages
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    domain = settings.acme_domain
    acme_dir(settings).mkdir(mode=0o700, exist_ok=True)
    jwk = josepy.JWKRSA(key=_account_key(settings))
    # requests takes a bundle path where the annotation says bool
    verify: Any = str(settings.acme_ca_bundle) if settings.acme_ca_bundle else True
    net = client.ClientNetwork(jwk, user_agent=f"pufferd/{__version__}", verify_ssl=verify)
    tokens: list[str] = []
    try:
        ca = client.ClientV2(client.ClientV2.get_directory(settings.acme_directory_url, net), net)
        registration = messages.NewRegistration.from_data(email=settings.acme_email or None,
                                                          terms_of_service_agreed=True)
        try:
            ca.new_account(registration)
        except errors.ConflictError as exc:  # this key already has an account: use it
            net.account = messages.RegistrationResource(uri=exc.location, body=messages.Registration())
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        order = ca.new_order(crypto_util.make_csr(key_pem, [domain]))
        for authz in order.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue  # validated recently for this account
            for challb in authz.body.challenges:
                if isinstance(challb.chall, acme_challenges.HTTP01):
                    response, validation = challb.response_and_validation(jwk)
                    token = challb.chall.encode("token")
                    challenges[token] = validation
                    tokens.append(token)
                    ca.answer_challenge(challb, response)
                    break
            else:
                raise AcmeError(f"the CA offers no http-01 challenge for {domain}")
        deadline = datetime.datetime.now() + ORDER_TIMEOUT
        fullchain = ca.poll_and_finalize(order, deadline).fullchain_pem.encode()
    except AcmeError:
        raise
    except errors.ValidationError as exc:
        problems = [str(c.error.detail) for a in exc.failed_authzrs for c in a.body.challenges if c.error]
        raise AcmeError(f"the CA could not validate {domain}: {'; '.join(problems) or exc}") from None
    except Exception as exc:  # the library raises requests', josepy's and its own errors
        raise AcmeError(f"{type(exc).__name__}: {exc}") from None
    finally:
        for token in tokens:
            challenges.pop(token, None)
    _write(key_path(settings), key_pem, 0o600)
    _write(cert_path(settings), fullchain, 0o644)
    return fullchain, key_pem


def initial_context(settings: Settings) -> ssl.SSLContext:
    """The context to start serving with: the saved certificate, else a temporary self-signed one."""
    ctx = tls.new_context()
    saved = stored(settings)
    if saved is not None:
        try:
            tls.load_pem(ctx, *saved)
            return ctx
        except tls.TLSError as exc:
            log.warning("ACME: the saved certificate cannot be used (%s); requesting a new one", exc)
    tls.load_pem(ctx, *tls.self_signed(settings.acme_domain))
    return ctx


def _on_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """FN on a daemon thread: a CA that hangs must not hold the process at shutdown."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="pufferd-acme", daemon=True).start()
    return future


def _due(settings: Settings, now: datetime.datetime) -> datetime.datetime:
    saved = stored(settings)
    if saved is None:
        return now
    try:
        return tls.renew_at(saved[0], RENEW_FRACTION)
    except ValueError:
        return now


async def keep_certificate(settings: Settings, ctx: ssl.SSLContext, challenges: MutableMapping[str, str]) -> None:
    """Forever: obtain a certificate when none is saved or the saved one is due, and serve it."""
    retry = RETRY_FIRST
    while True:
        now = datetime.datetime.now(datetime.UTC)
        due = _due(settings, now)
        if due > now:
            await asyncio.sleep(min(CHECK_SECONDS, (due - now).total_seconds()))
            continue
        log.info("ACME: requesting a certificate for %s from %s", settings.acme_domain,
                 settings.acme_directory_url)
        try:
            fullchain, key_pem = await _on_thread(lambda: issue(settings, challenges))
            tls.load_pem(ctx, fullchain, key_pem)
        except (AcmeError, tls.TLSError, OSError) as exc:
            log.error("ACME: no certificate for %s: %s; retrying in %d s", settings.acme_domain, exc, retry)
            await asyncio.sleep(retry)
            retry = min(retry * 2, RETRY_MAX)
            continue
        retry = RETRY_FIRST
        log.info("ACME: certificate for %s installed, valid until %s, renewal from %s", settings.acme_domain,
                 f"{tls.not_valid_after(fullchain):%Y-%m-%d %H:%M} UTC",
                 f"{tls.renew_at(fullchain, RENEW_FRACTION):%Y-%m-%d %H:%M} UTC")
