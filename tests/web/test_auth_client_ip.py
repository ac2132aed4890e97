"""Client IP resolution (API reference section 12): X-Forwarded-For only from trusted proxies."""
from __future__ import annotations

import pytest

from pufferd.web.client import client_ip

PROXIES = ["10.0.0.0/8", "::1"]


@pytest.mark.parametrize("peer, xff, trusted, expected", [
    ("203.0.113.9", ["1.2.3.4"], [], "203.0.113.9"),                        # no proxies configured
    ("203.0.113.9", ["1.2.3.4"], PROXIES, "203.0.113.9"),                   # peer is not a proxy
    ("10.0.0.5", ["1.2.3.4"], PROXIES, "1.2.3.4"),                          # behind one proxy
    ("10.0.0.5", ["6.6.6.6, 1.2.3.4"], PROXIES, "1.2.3.4"),                 # client-forged left entry ignored
    ("10.0.0.5", ["6.6.6.6", "1.2.3.4, 10.0.0.7"], PROXIES, "1.2.3.4"),     # two proxies, two headers
    ("10.0.0.5", ["10.0.0.9, 10.0.0.7"], PROXIES, "10.0.0.9"),              # all hops trusted: the first
    ("10.0.0.5", [], PROXIES, "10.0.0.5"),                                  # proxy sent no header
    ("10.0.0.5", ["garbage"], PROXIES, "10.0.0.5"),                         # broken chain: the proxy
    ("::1", ["2001:db8::1"], PROXIES, "2001:db8::1"),
    ("::ffff:10.0.0.5", ["1.2.3.4"], PROXIES, "1.2.3.4"),                   # IPv4-mapped peer
    ("::ffff:203.0.113.9", [], [], "203.0.113.9"),
    (None, ["1.2.3.4"], PROXIES, None),
])
def test_client_ip(peer, xff, trusted, expected):
    assert client_ip(peer, xff, trusted) == expected
