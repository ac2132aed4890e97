"""HTTP Signatures (pufferd/federation/signatures.py) against apsig, an independent implementation."""
from __future__ import annotations

import time

import pytest
from apsig.draft.sign import Signer
from apsig.draft.verify import Verifier

from pufferd.federation import signatures
from pufferd.federation.signatures import SignatureError

URL = "https://b.example/ap/users/2/inbox"
BODY = b'{"type": "Create", "id": "https://a.example/ap/activities/1"}'
KEY_ID = "https://a.example/ap/users/1#main-key"


@pytest.fixture(scope="module")
def key_pair():
    return signatures.new_key_pair()


@pytest.fixture(scope="module")
def other_pair():
    return signatures.new_key_pair()


def _verify(headers, pem, *, body=BODY, now=None):
    sig = signatures.parse(headers)
    signatures.verify(sig, pem, method="POST", url=URL, headers=headers, body=body, now=now or time.time())
    return sig


def test_our_signature_verifies_with_apsig(key_pair):
    key, pem = key_pair
    headers = signatures.sign(key, KEY_ID, "POST", URL, BODY, time.time())
    assert Verifier(pem, "POST", URL, headers, BODY).verify(raise_on_fail=True) == KEY_ID
    assert 'headers="(request-target) host date digest"' in headers["Signature"]


def test_apsig_signature_verifies_with_ours(key_pair):
    key, pem = key_pair
    headers = Signer({"Content-Type": "application/activity+json"}, key, "POST", URL, KEY_ID, BODY).sign()
    assert _verify(headers, pem).key_id == KEY_ID


def test_hs2019_name_is_accepted_for_rsa(key_pair):
    key, pem = key_pair
    headers = signatures.sign(key, KEY_ID, "POST", URL, BODY, time.time())
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", "hs2019")
    _verify(headers, pem)


def test_tampered_body_is_refused(key_pair):
    key, pem = key_pair
    headers = signatures.sign(key, KEY_ID, "POST", URL, BODY, time.time())
    with pytest.raises(SignatureError, match="Digest"):
        _verify(headers, pem, body=BODY.replace(b"Create", b"Delete"))


def test_tampered_digest_and_body_is_refused(key_pair):
    key, pem = key_pair
    headers = signatures.sign(key, KEY_ID, "POST", URL, BODY, time.time())
    forged = BODY.replace(b"Create", b"Delete")
    headers["Digest"] = signatures.digest(forged)
    with pytest.raises(SignatureError, match="does not verify"):
        _verify(headers, pem, body=forged)


def test_wrong_key_is_refused(key_pair, other_pair):
    key, _ = key_pair
    headers = signatures.sign(key, KEY_ID, "POST", URL, BODY, time.time())
    with pytest.raises(SignatureError, match="does not verify"):
        _verify(headers, other_pair[1])


def test_old_date_is_refused(key_pair):
    key, pem = key_pair
    headers = signatures.sign(key, KEY_ID, "POST", URL, BODY, time.time() - 301)
    with pytest.raises(SignatureError, match="5 minutes"):
        _verify(headers, pem)
    # apsig agrees
    assert Verifier(pem, "POST", URL, headers, BODY).verify() is None


def test_signature_must_cover_digest(key_pair):
    key, pem = key_pair
    headers = Signer({}, key, "POST", URL, KEY_ID, BODY, signed_headers=["(request-target)", "host", "date"]).sign()
    with pytest.raises(SignatureError, match="cover digest"):
        _verify(headers, pem)


def test_other_target_is_refused(key_pair):
    key, pem = key_pair
    headers = signatures.sign(key, KEY_ID, "POST", "https://b.example/ap/inbox", BODY, time.time())
    with pytest.raises(SignatureError):
        _verify(headers, pem)


def test_unsigned_request_is_refused():
    with pytest.raises(SignatureError, match="not signed"):
        signatures.parse({"Date": "x"})


GET_URL = "https://b.example/ap/users/2"


def test_our_signed_get_has_no_digest_and_verifies_with_apsig(key_pair):
    key, pem = key_pair
    headers = signatures.sign(key, KEY_ID, "GET", GET_URL, None, time.time())
    assert "Digest" not in headers and headers["Host"] == "b.example"
    assert 'headers="(request-target) host date"' in headers["Signature"]
    assert Verifier(pem, "GET", GET_URL, headers, None).verify(raise_on_fail=True) == KEY_ID
    sig = signatures.parse(headers)
    signatures.verify(sig, pem, method="GET", url=GET_URL, headers=headers, body=b"", now=time.time())
    with pytest.raises(SignatureError, match="does not verify"):  # bound to the URL it was made for
        signatures.verify(sig, pem, method="GET", url=GET_URL + "/inbox", headers=headers, body=b"",
                          now=time.time())


def test_apsig_signed_get_verifies_with_ours(key_pair):
    key, pem = key_pair
    headers = Signer({"Accept": "application/activity+json"}, key, "GET", GET_URL, KEY_ID).sign()
    sig = signatures.parse(headers)
    assert "digest" not in sig.headers
    signatures.verify(sig, pem, method="GET", url=GET_URL, headers=headers, body=b"", now=time.time())
