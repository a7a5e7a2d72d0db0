"""Session settings and the SSRF ip_filter derived from EngineConfig (no sockets)."""

from __future__ import annotations

from pathlib import Path

import libtorrent as lt
import pytest

from torrent_streamer.engine import EngineConfig
from torrent_streamer.engine.session import (
    build_ip_filter,
    proxy_settings,
    session_settings,
)


def _cfg(**kw: object) -> EngineConfig:
    return EngineConfig(download_dir=Path("/d"), state_dir=Path("/s"), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ip", "blocked"),
    [
        ("10.1.2.3", True),
        ("172.20.0.1", True),
        ("192.168.1.1", True),
        ("127.0.0.1", True),
        ("169.254.169.254", True),
        ("100.64.1.1", True),
        ("224.0.0.251", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("ff02::1", True),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
    ],
)
def test_ip_filter_blocks_private_ranges(ip: str, blocked: bool) -> None:
    f = build_ip_filter(_cfg())
    assert (f.access(ip) == 1) is blocked
    assert build_ip_filter(_cfg(allow_private_networks=True)).access(ip) == 0


def test_server_safe_defaults() -> None:
    s = session_settings(_cfg())
    assert s["ssrf_mitigation"] is True
    assert s["allow_multiple_connections_per_ip"] is False
    assert not s["enable_lsd"]
    assert not s["enable_upnp"]
    assert not s["enable_natpmp"]
    assert not s["enable_outgoing_utp"]  # TCP first; uTP only as a fallback (docs/engine.md)
    assert s["enable_incoming_utp"]
    assert session_settings(_cfg(outgoing_utp=True))["enable_outgoing_utp"]
    assert s["announce_to_all_tiers"]
    assert s["announce_to_all_trackers"]
    mask = s["alert_mask"]
    for cat in ("status", "storage", "piece_progress", "error", "connect"):
        assert mask & int(getattr(lt.alert_category, cat))
    t = session_settings(_cfg(enable_utp=False, allow_private_networks=True))
    assert not t["enable_outgoing_utp"]
    assert not t["ssrf_mitigation"]


def test_proxy() -> None:
    p = proxy_settings("socks5://user:p%40ss@proxy.example:1080")
    assert p["proxy_type"] == int(lt.proxy_type_t.socks5_pw)
    assert p["proxy_username"] == "user"
    assert p["proxy_password"] == "p@ss"
    assert p["proxy_peer_connections"]
    assert p["proxy_tracker_connections"]
    assert p["proxy_hostnames"]
    assert proxy_settings("socks5://h:1")["proxy_type"] == int(lt.proxy_type_t.socks5)
    with pytest.raises(ValueError, match="socks5"):
        proxy_settings("http://h:1")
    s = session_settings(_cfg(proxy_url="socks5://h:9050"))
    assert s["proxy_hostname"] == "h"
    assert s["proxy_port"] == 9050


def test_metadata_size_is_bounded_below_libtorrents_default() -> None:
    """Issue 12 item 6: peers cannot make a magnet fetch and decode ~30 MiB of metadata (default 4 MiB)."""
    assert session_settings(_cfg())["max_metadata_size"] == 4 * 1024 * 1024
    assert lt.default_settings()["max_metadata_size"] > 4 * 1024 * 1024
    assert session_settings(_cfg(max_metadata_size=1 << 20))["max_metadata_size"] == 1 << 20
