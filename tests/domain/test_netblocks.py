"""The in-memory block list: normal forms of networks, the narrowest match, expiry, IPv6 and
IPv4-mapped addresses, and a lookup that stays cheap with many blocks."""
from __future__ import annotations

import ipaddress
import time

import pytest

from pufferd.netblocks import Blocked, BlockList, parse_network


def blocked(block_id: int, network: str, expires_at: float | None = None) -> Blocked:
    return Blocked(block_id, parse_network(network), expires_at)


@pytest.mark.parametrize("text, normal", [
    ("203.0.113.7", "203.0.113.7/32"),
    ("203.0.113.77/24", "203.0.113.0/24"),
    (" 2001:db8::1 ", "2001:db8::1/128"),
    ("2001:DB8::/32", "2001:db8::/32"),
    ("::ffff:198.51.100.7", "198.51.100.7/32"),
    ("::ffff:198.51.100.0/120", "198.51.100.0/24"),
    ("0.0.0.0/0", "0.0.0.0/0"),
])
def test_parse_network_normal_form(text, normal):
    assert str(parse_network(text)) == normal


@pytest.mark.parametrize("text", ["", "nonsense", "10.0.0.0/33", "1.2.3.4.5", "2001:db8::/129", "10.0.0.0/-1"])
def test_parse_network_refuses(text):
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address or CIDR range"):
        parse_network(text)


def test_match_prefers_the_narrowest_and_skips_expired():
    blocks = BlockList([blocked(1, "10.0.0.0/8"), blocked(2, "10.1.0.0/16", expires_at=100.0),
                        blocked(3, "10.1.2.3")])
    assert blocks.match("10.1.2.3", 50.0).id == 3
    assert blocks.match("10.1.9.9", 50.0).id == 2
    assert blocks.match("10.1.9.9", 150.0).id == 1  # the /16 expired: the /8 still covers it
    assert blocks.match("11.0.0.1", 50.0) is None
    assert blocks.match("not an address", 50.0) is None and blocks.match(None, 50.0) is None


def test_families_do_not_mix_and_mapped_addresses_are_ipv4():
    blocks = BlockList([blocked(1, "::/0")])
    assert blocks.match("2001:db8::1", 0) is not None
    assert blocks.match("192.0.2.1", 0) is None
    assert blocks.match("::ffff:192.0.2.1", 0) is None  # it is 192.0.2.1
    blocks.add(blocked(2, "192.0.2.0/24"))
    assert blocks.match("::ffff:192.0.2.1", 0).id == 2


def test_remove_and_replace():
    blocks = BlockList([blocked(1, "192.0.2.0/24")])
    blocks.add(blocked(1, "198.51.100.0/24"))  # the same id again replaces the block
    assert blocks.match("192.0.2.1", 0) is None and blocks.match("198.51.100.1", 0).id == 1
    blocks.remove(1)
    blocks.remove(1)
    assert len(blocks) == 0 and blocks.match("198.51.100.1", 0) is None


def test_attempts_are_taken_once_and_can_be_returned():
    blocks = BlockList([blocked(1, "192.0.2.0/24")])
    hit = blocks.match("192.0.2.5", 0)
    blocks.count_attempt(hit, 10.0)
    blocks.count_attempt(hit, 11.0)
    taken = blocks.take_attempts()
    assert taken == {1: (2, 11.0)} and blocks.take_attempts() == {}
    blocks.count_attempt(hit, 12.0)
    blocks.return_attempts(taken)
    assert blocks.take_attempts() == {1: (3, 12.0)}


def test_ten_thousand_blocks_cost_microseconds_per_lookup():
    base = int(ipaddress.IPv4Address("100.64.0.0"))
    blocks = BlockList(blocked(i, str(ipaddress.IPv4Address(base + i))) for i in range(10_000))
    for n, prefix in enumerate(("10.0.0.0/8", "172.16.0.0/12", "2001:db8::/32")):
        blocks.add(blocked(20_000 + n, prefix))
    assert blocks.match("100.64.39.15", 0) is not None and blocks.match("172.20.1.1", 0).id == 20_001
    started = time.perf_counter()
    for _ in range(10_000):
        blocks.match("198.51.100.1", 0)
    per_lookup = (time.perf_counter() - started) / 10_000
    assert per_lookup < 50e-6, per_lookup  # a few µs on a small machine; generous for a busy one
