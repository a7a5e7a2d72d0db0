"""Builds libtorrent session settings and the SSRF ip_filter from an EngineConfig.

Pure translation; the engine applies the result when it creates the session.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import unquote, urlsplit

import libtorrent as lt

from .config import EngineConfig
from .netpolicy import BLOCKED_NETWORKS

ALERT_MASK = (
    lt.alert_category.status
    | lt.alert_category.storage
    | lt.alert_category.piece_progress
    | lt.alert_category.error
    | lt.alert_category.connect  # peer connects/disconnects: TorrentState.peer_log
)


def proxy_settings(url: str) -> dict[str, Any]:
    """Settings routing all engine traffic through a SOCKS5 proxy URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("socks5", "socks5h") or not parts.hostname or not parts.port:
        raise ValueError("proxy_url must be socks5://[user:pass@]host:port")
    out: dict[str, Any] = {
        "proxy_hostname": parts.hostname,
        "proxy_port": parts.port,
        "proxy_type": int(lt.proxy_type_t.socks5),
        "proxy_peer_connections": True,
        "proxy_tracker_connections": True,
        "proxy_hostnames": True,
    }
    if parts.username:
        out["proxy_type"] = int(lt.proxy_type_t.socks5_pw)
        out["proxy_username"] = unquote(parts.username)
        out["proxy_password"] = unquote(parts.password or "")
    return out


def session_settings(cfg: EngineConfig) -> dict[str, Any]:
    """The settings_pack for the engine's session."""
    s: dict[str, Any] = {
        "listen_interfaces": cfg.listen_interfaces,
        "alert_mask": int(ALERT_MASK),
        "alert_queue_size": 10000,
        "enable_dht": cfg.enable_dht,
        "enable_lsd": cfg.enable_lsd,
        "enable_upnp": cfg.enable_upnp,
        "enable_natpmp": cfg.enable_natpmp,
        "enable_outgoing_utp": cfg.enable_utp and cfg.outgoing_utp,
        "enable_incoming_utp": cfg.enable_utp,
        "download_rate_limit": cfg.download_rate_limit,
        "upload_rate_limit": cfg.upload_rate_limit,
        "connections_limit": cfg.connections_limit,
        "ssrf_mitigation": not cfg.allow_private_networks,
        "allow_multiple_connections_per_ip": cfg.allow_private_networks,
        "apply_ip_filter_to_trackers": True,
        "validate_https_trackers": True,
        # Start-up: every tracker of every tier is announced to at once, beside the DHT (libtorrent
        # otherwise tries tiers one after another).
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "torrent_connect_boost": 40,
        "connection_speed": 60,
        "piece_timeout": 5,
        "request_timeout": 10,
        "user_agent": "torrent-streamer/0.1",
        # Time-critical requests wait for the session tick: 500 ms by default = TTFB.
        "tick_interval": 100,
        # A seed dropped when a torrent finishes must come back quickly when a new
        # file is watched (default: 60 s).
        "min_reconnect_time": 1,
        # A finished torrent here is only "finished with the files watched so far": its seeds stay
        # connected, so the next file someone opens starts at once (a dropped seed is not always
        # re-dialled: seen with a magnet's x.pe peer, 0 peers for 60 s+ after the first file).
        "close_redundant_connections": False,
        # Bounds what a magnet's peers can make us download and decode (libtorrent: ~30 MiB).
        "max_metadata_size": cfg.max_metadata_size,
    }
    if cfg.proxy_url:
        s.update(proxy_settings(cfg.proxy_url))
    return s


def build_ip_filter(cfg: EngineConfig) -> lt.ip_filter:
    """An ip_filter blocking private, loopback, link-local and multicast ranges."""
    f = lt.ip_filter()
    if cfg.allow_private_networks:
        return f
    for cidr in BLOCKED_NETWORKS:
        net = ipaddress.ip_network(cidr)
        f.add_rule(str(net[0]), str(net[-1]), 1)
    return f
