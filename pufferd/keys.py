"""Key material in DIR/keys (0700 dir, 0600 files) and the sub-keys derived from the master key."""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

MASTER = "master.key"
DB = "db.key"
JWT = "jwt.key"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class KeyError_(Exception):
    """A key is missing, unreadable or malformed."""


def write_secret(path: Path, data: str) -> None:
    """Create PATH with mode 0600 from the start (never world-readable, not even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)


def generate(keys_dir: Path, *, db_key_on_disk: bool) -> None:
    """Create the key directory and fresh random keys."""
    keys_dir.mkdir(mode=0o700)
    os.chmod(keys_dir, 0o700)
    write_secret(keys_dir / MASTER, secrets.token_hex(32) + "\n")
    write_secret(keys_dir / JWT, secrets.token_hex(32) + "\n")
    if db_key_on_disk:
        write_secret(keys_dir / DB, secrets.token_hex(32) + "\n")


def _read_hex(path: Path) -> bytes:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise KeyError_(f"{path}: key file missing") from None
    except OSError as exc:
        raise KeyError_(f"{path}: cannot read key ({exc.strerror})") from None
    if not _HEX64.match(text):
        raise KeyError_(f"{path}: malformed key (expected 64 hex digits)")
    return bytes.fromhex(text)


def db_key_hex(keys_dir: Path, env_key: str | None) -> str:
    """The database cipher key: PUFFERD_DB_KEY (64 hex digits or a passphrase) else keys/db.key."""
    if env_key:
        if _HEX64.match(env_key):
            return env_key.lower()
        # a passphrase: stretch it; the salt is fixed because it must be derivable without the disk
        return hashlib.pbkdf2_hmac("sha256", env_key.encode(), b"pufferd database key v1", 200_000).hex()
    return _read_hex(keys_dir / DB).hex()


@dataclass(frozen=True)
class Keys:
    """Secrets the running server needs; never logged, never stored in the database or config."""

    master: bytes
    jwt: bytes

    @classmethod
    def load(cls, keys_dir: Path) -> Keys:
        return cls(master=_read_hex(keys_dir / MASTER), jwt=_read_hex(keys_dir / JWT))

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A sub-key for one purpose (blob encryption, URL signing, TOTP secrets...), via HKDF-SHA256."""
        return hkdf_sha256(self.master, f"pufferd {purpose}".encode(), length)


def hkdf_sha256(ikm: bytes, info: bytes, length: int = 32, salt: bytes | None = None) -> bytes:
    """HKDF-SHA256 (RFC 5869) with the standard library's HMAC: the same bytes as cryptography's
    HKDF, without loading cryptography (≈ 8 MB of RSS) in a process that has not needed it yet."""
    if not 0 < length <= 255 * 32:
        raise ValueError(f"HKDF-SHA256 cannot derive {length} bytes")
    prk = hmac.digest(salt or bytes(32), ikm, "sha256")  # 2.2: no salt is HashLen zero bytes
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):  # 2.3: T(i) = HMAC(PRK, T(i-1) | info | i)
        block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
        okm += block
    return okm[:length]
