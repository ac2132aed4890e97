"""Sub-keys derived from the master key (pufferd/keys.py)."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pufferd.keys import Keys, hkdf_sha256

MASTER = bytes(range(32))


@pytest.mark.parametrize("length", [1, 16, 32, 33, 64, 100, 255 * 32])
@pytest.mark.parametrize("salt", [None, b"", b"s" * 32, b"a longer salt than the hash's 32 bytes" * 3])
def test_hkdf_gives_the_bytes_of_cryptography(length: int, salt: bytes | None) -> None:
    """The standard-library HKDF derives exactly what cryptography's did, so existing blobs, signed
    URLs and sealed 2FA secrets still open."""
    expected = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=b"pufferd x").derive(MASTER)
    assert hkdf_sha256(MASTER, b"pufferd x", length, salt) == expected


def test_rfc5869_case_1() -> None:
    ikm = bytes.fromhex("0b" * 22)
    okm = hkdf_sha256(ikm, bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42, bytes.fromhex("000102030405060708090a0b0c"))
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")


def test_derive_names_the_purpose() -> None:
    keys = Keys(master=MASTER, jwt=bytes(32))
    expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=b"pufferd blob encryption").derive(MASTER)
    assert keys.derive("blob encryption") == expected
    assert keys.derive("url signing") != expected
    assert len(keys.derive("totp secrets", 16)) == 16


@pytest.mark.parametrize("length", [0, 255 * 32 + 1])
def test_hkdf_refuses_impossible_lengths(length: int) -> None:
    with pytest.raises(ValueError, match="cannot derive"):
        hkdf_sha256(MASTER, b"x", length)
