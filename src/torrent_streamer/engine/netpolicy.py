"""SSRF policy: which hosts and URLs the engine may contact (SR-5.7), pure functions.

Literal IPs and local-looking host names are checked here; resolved addresses are
blocked by libtorrent's ip_filter built from `BLOCKED_NETWORKS`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from .errors import BlockedAddress, InvalidMagnet

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

BLOCKED_NETWORKS: tuple[str, ...] = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/3",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b::/96",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
)

_LOCAL_SUFFIXES = (
    ".localhost",
    ".local",
    ".internal",
    ".lan",
    ".home.arpa",
    ".localdomain",
)
_HOST_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\.?$")
_NUMERIC_HOST_RE = re.compile(r"^[0-9a-fx.]+$")
MAX_URL_LENGTH = 2048
TRACKER_SCHEMES = frozenset({"http", "https", "udp"})
WEB_SEED_SCHEMES = frozenset({"http", "https"})


def is_blocked_ip(ip: IPAddress) -> bool:
    """True for any address that is not globally routable unicast."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_blocked_ip(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            return is_blocked_ip(ip.sixtofour)
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local:
        return True
    return not ip.is_global


def parse_ip(host: str) -> IPAddress | None:
    """Parse a literal IP, including inet_aton shorthands like `2130706433` or `0x7f.1`."""
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_HOST_RE.match(h.lower()) and any(c.isdigit() for c in h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except OSError:
            return None
    return None


def is_blocked_host(host: str) -> bool:
    """True for private/loopback/link-local literal IPs and local-only host names."""
    h = host.strip().lower().rstrip(".")
    if not h:
        return True
    ip = parse_ip(h)
    if ip is not None:
        return is_blocked_ip(ip)
    if h == "localhost" or h.endswith(_LOCAL_SUFFIXES):
        return True
    return "." not in h


def check_host(host: str, allow_private: bool) -> None:
    """Raise BlockedAddress if `host` is syntactically bad or on a forbidden network."""
    h = host.strip("[]").lower()
    if not h or len(h) > 253:
        raise BlockedAddress("invalid host")
    if parse_ip(h) is None and not _HOST_RE.match(h):
        raise BlockedAddress("invalid host name")
    if not allow_private and is_blocked_host(h):
        raise BlockedAddress("address on a private, loopback or link-local network is not allowed")


def check_url(url: str, schemes: frozenset[str], allow_private: bool) -> str:
    """Validate a tracker or web-seed URL; returns it unchanged or raises BlockedAddress."""
    if len(url) > MAX_URL_LENGTH or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise BlockedAddress("malformed URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedAddress("malformed URL") from exc
    if parts.scheme.lower() not in schemes:
        raise BlockedAddress("URL scheme not allowed")
    if parts.hostname is None:
        raise BlockedAddress("URL without host")
    if port == 0:
        raise BlockedAddress("URL port not allowed")
    check_host(parts.hostname, allow_private)
    return url


def check_peer(endpoint: str, allow_private: bool) -> tuple[str, int]:
    """Validate a `host:port` / `[v6]:port` peer endpoint from a magnet's `x.pe`."""
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d{1,5})|([^:\[\]]+):(\d{1,5})", endpoint)
    if m is None:
        raise BlockedAddress("malformed peer address")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 0 < port < 65536:
        raise BlockedAddress("malformed peer address")
    try:  # IP literals only: libtorrent cannot connect a host name, and we resolve nothing at add time
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidMagnet("a peer address (x.pe) must be an IP address, not a host name") from None
    check_host(str(ip), allow_private)
    return str(ip), port
