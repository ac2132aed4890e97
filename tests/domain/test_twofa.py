"""TOTP helpers: sealing the secret, matching codes within ±1 step."""
from __future__ import annotations

import os

import pyotp

from pufferd import twofa

KEY = os.urandom(32)


def test_sealed_secret_opens_only_for_its_user_and_key():
    sealed = twofa.seal(KEY, 7, "JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert twofa.unseal(KEY, 7, sealed) == "JBSWY3DPEHPK3PXP"
    assert twofa.unseal(KEY, 8, sealed) is None            # copied onto another account
    assert twofa.unseal(os.urandom(32), 7, sealed) is None  # another server's key
    assert twofa.unseal(KEY, 7, "JBSWY3DPEHPK3PXP") is None
    assert twofa.unseal(KEY, 7, "v1.not-base64!") is None


def test_sealing_twice_gives_different_ciphertexts():
    assert twofa.seal(KEY, 1, "A" * 32) != twofa.seal(KEY, 1, "A" * 32)


def test_matching_step_accepts_one_step_either_side():
    secret = pyotp.random_base32()
    now = 1_800_000_015.0
    step = int(now // 30)
    totp = pyotp.TOTP(secret)
    for delta in (-1, 0, 1):
        assert twofa.matching_step(secret, totp.generate_otp(step + delta), now) == step + delta
    for delta in (-2, 2):
        assert twofa.matching_step(secret, totp.generate_otp(step + delta), now) is None
    assert twofa.matching_step(secret, "", now) is None
