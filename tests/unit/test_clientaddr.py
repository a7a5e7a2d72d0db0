"""Client keys of address-keyed limits: IPv4 per /32, IPv6 per /64, prefixes from settings (SR-2.6, SR-5.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import support
from torrent_streamer.core.clientaddr import client_key, client_network


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::1]", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4-mapped counts as its IPv4 address
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_default_prefixes(address: str | None, expected: str) -> None:
    assert client_network(address) == expected


def test_every_address_of_one_slash_64_is_one_client_and_neighbours_are_not() -> None:
    inside = {client_network(f"2001:db8:7:8:{i:x}::{i:x}") for i in range(1, 200)}
    assert inside == {"2001:db8:7:8::/64"}
    assert client_network("2001:db8:7:9::1") != client_network("2001:db8:7:8::1")


def test_prefix_lengths_come_from_settings(tmp_path: Path) -> None:
    settings = support.make_settings(tmp_path, client_ipv4_prefix=24, client_ipv6_prefix=48)
    assert client_key(settings, "198.51.100.77") == "ip:198.51.100.0/24"
    assert client_key(settings, "2001:db8:1:2::1") == "ip:2001:db8:1::/48"
    defaults = support.make_settings(tmp_path)
    assert client_key(defaults, "198.51.100.77") == "ip:198.51.100.77"
    assert client_key(defaults, "2001:db8:1:2::1") == "ip:2001:db8:1:2::/64"
