"""Property and example tests of the pure magnet parser and SSRF host policy."""

from __future__ import annotations

import base64
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torrent_streamer.engine import BlockedAddress, InvalidMagnet, parse_magnet
from torrent_streamer.engine.errors import EngineError
from torrent_streamer.engine.netpolicy import is_blocked_host

hex40 = st.text("0123456789abcdefABCDEF", min_size=40, max_size=40)
hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)


@given(hex40)
def test_v1_hex_roundtrip(h: str) -> None:
    m = parse_magnet(f"magnet:?xt=urn:btih:{h}")
    assert m.v1 == h.lower()
    assert m.key == h.lower()
    assert parse_magnet(m.canonical_uri()) == m


@given(st.binary(min_size=20, max_size=20))
def test_v1_base32(raw: bytes) -> None:
    b32 = base64.b32encode(raw).decode()
    assert parse_magnet(f"magnet:?xt=urn:btih:{b32}").v1 == raw.hex()


@given(hex64, hex40)
def test_v2_and_hybrid(v2: str, v1: str) -> None:
    m = parse_magnet(f"magnet:?xt=urn:btmh:1220{v2}")
    assert m.v2 == v2
    assert m.v1 is None
    assert m.key == v2
    hybrid = parse_magnet(f"magnet:?xt=urn:btih:{v1}&xt=urn:btmh:1220{v2}")
    assert hybrid.key == v1.lower()
    assert hybrid.v2 == v2


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_arbitrary_text_never_crashes(s: str) -> None:
    for uri in (s, "magnet:?" + s, f"magnet:?xt=urn:btih:{'a' * 40}&" + s):
        try:
            m = parse_magnet(uri)
        except EngineError:
            continue
        assert m.key
        canonical = m.canonical_uri()
        assert parse_magnet(canonical) == m
        assert "\x00" not in canonical
        assert "\n" not in canonical


@given(st.text(min_size=1, max_size=100))
def test_display_name_roundtrips(name: str) -> None:
    try:
        m = parse_magnet(f"magnet:?xt=urn:btih:{'a' * 40}&dn=" + __import__("urllib.parse").parse.quote(name))
    except InvalidMagnet:
        assert any(ord(c) < 32 or ord(c) == 127 for c in name)
        return
    assert m.name == name


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "http://example.com",
        "magnet:?dn=x",
        "magnet:?xt=urn:btih:" + "a" * 39,
        "magnet:?xt=urn:btih:" + "g" * 40,
        "magnet:?xt=urn:btmh:1120" + "a" * 64,
        "magnet:?xt=urn:sha1:" + "a" * 40,
        "magnet:?xt=urn:btih:" + "a" * 40 + "&xt=urn:btih:" + "b" * 40,
        "magnet:?xt=urn:btih:" + "a" * 40 + "&dn=" + "x" * 600,
        "magnet:?xt=urn:btih:" + "a" * 40 + "&dn=%00",
        "magnet:?xt=urn:btih:" + "a" * 40 + "&dn=%ff",
        "magnet:?xt=urn:btih:" + "a" * 40 + "&tr=x" * 0 + "&" + "a" * 9000,
        "magnet:?xt=urn:btih:" + "a" * 40 + "&noequals",
    ],
)
def test_invalid_magnets(uri: str) -> None:
    with pytest.raises(InvalidMagnet):
        parse_magnet(uri)


@pytest.mark.parametrize(
    "field",
    [
        "tr=http://127.0.0.1/announce",
        "tr=udp://10.1.2.3:80",
        "tr=http://[::1]:80/a",
        "tr=http://[::ffff:192.168.0.1]/a",
        "tr=http://localhost/a",
        "tr=http://foo.localhost/a",
        "tr=http://printer.local/a",
        "tr=http://intranet/a",
        "tr=http://0x7f.1/a",
        "tr=http://2130706433/a",
        "tr=http://0/a",
        "tr=file:///etc/passwd",
        "tr=gopher://example.com/",
        "ws=http://169.254.169.254/latest/meta-data",
        "ws=http://100.64.0.1/",
        "ws=http://224.0.0.1/",
        "x.pe=192.168.1.2:6881",
        "x.pe=[fe80::1]:6881",
        "x.pe=[fc00::1]:6881",
        "x.pe=example.com:0",
        "x.pe=nonsense",
    ],
)
def test_blocked_fields(field: str) -> None:
    with pytest.raises(BlockedAddress):
        parse_magnet(f"magnet:?xt=urn:btih:{'a' * 40}&{field}")


def test_allowed_when_private_networks_allowed() -> None:
    m = parse_magnet(
        f"magnet:?xt=urn:btih:{'a' * 40}&x.pe=127.0.0.1:6881&tr=http://localhost:8000/a",
        allow_private=True,
    )
    assert m.peers == (("127.0.0.1", 6881),)
    assert m.trackers == ("http://localhost:8000/a",)


def test_public_fields_kept_and_unknown_dropped() -> None:
    m = parse_magnet(
        f"magnet:?xt=urn:btih:{'A' * 40}&dn=My%20Movie&tr=udp%3A%2F%2Ftracker.example.org%3A1337"
        "&ws=https://cdn.example.com/x&x.pe=8.8.8.8:51413&dht=127.0.0.1:6881&xs=http://10.0.0.1/"
    )
    assert m.name == "My Movie"
    assert m.trackers == ("udp://tracker.example.org:1337",)
    assert m.web_seeds == ("https://cdn.example.com/x",)
    assert m.peers == (("8.8.8.8", 51413),)
    assert "dht=" not in m.canonical_uri()
    assert "xs=" not in m.canonical_uri()


@given(st.ip_addresses())
def test_blocked_ip_matches_ipaddress_globalness(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    if is_blocked_host(str(ip)) is False:
        assert ip.is_global
        assert not ip.is_multicast


@pytest.mark.parametrize(
    "peer", ["example.com:6881", "peer.example.org:51413", "xn--bcher-kva.example:1", "0x7f.1:6881"]
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_peer_hint_must_be_an_ip_literal(peer: str, allow_private: bool) -> None:
    """Issue 12 item 8: a host name in `x.pe` is refused (422 in the API), never handed to libtorrent."""
    with pytest.raises(InvalidMagnet, match="IP address"):
        parse_magnet(f"magnet:?xt=urn:btih:{'a' * 40}&x.pe={peer}", allow_private=allow_private)


def test_peer_hint_ip_literals_are_kept_in_canonical_form() -> None:
    m = parse_magnet(f"magnet:?xt=urn:btih:{'a' * 40}&x.pe=[2001:4860:0:0::8888]:6881&x.pe=8.8.4.4:1")
    assert m.peers == (("2001:4860::8888", 6881), ("8.8.4.4", 1))
