"""The key an address-keyed limit counts a client under: IPv4 per /32, IPv6 per /64 (from settings).

One IPv6 subscriber usually holds a whole /64, so counting single IPv6 addresses would let one
client rotate through 2^64 of them; every address-keyed limit goes through ``client_key``.
"""

from __future__ import annotations

import ipaddress

from torrent_streamer.core.config import Settings

DEFAULT_IPV4_PREFIX = 32
DEFAULT_IPV6_PREFIX = 64


def client_network(
    address: str | None, *, ipv4_prefix: int = DEFAULT_IPV4_PREFIX, ipv6_prefix: int = DEFAULT_IPV6_PREFIX
) -> str:
    """``"192.0.2.7"`` (IPv4 at /32), ``"2001:db8:1:2::/64"`` (IPv6); non-addresses are kept as they are.

    An IPv4-mapped IPv6 address (``::ffff:192.0.2.7``) counts as the IPv4 address it carries.
    """
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = ipv4_prefix if ip.version == 4 else ipv6_prefix
    if prefix >= ip.max_prefixlen:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def client_key(settings: Settings, address: str | None) -> str:
    """The limiter identifier of a client address: ``"ip:" + client_network(...)`` with the
    prefix lengths of ``TS_CLIENT_IPV4_PREFIX`` / ``TS_CLIENT_IPV6_PREFIX``."""
    network = client_network(address, ipv4_prefix=settings.client_ipv4_prefix, ipv6_prefix=settings.client_ipv6_prefix)
    return "ip:" + network
