"""Strict, pure parser of magnet URIs; rebuilds a canonical URI holding only vetted fields.

libtorrent only ever sees `Magnet.canonical_uri()`, never the user's raw string.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .errors import BlockedAddress, InvalidMagnet
from .netpolicy import TRACKER_SCHEMES, WEB_SEED_SCHEMES, check_peer, check_url

_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
_B32 = re.compile(r"^[A-Za-z2-7]{32}$")
_BTMH = re.compile(r"^1220([0-9a-fA-F]{64})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_LENGTH = 512
MAX_PEERS = 64
MAX_WEB_SEEDS = 16


@dataclass(frozen=True, slots=True)
class Magnet:
    """A validated magnet: lowercase hex info-hashes, vetted trackers, seeds and peers."""

    v1: str | None
    v2: str | None
    name: str | None
    trackers: tuple[str, ...] = ()
    web_seeds: tuple[str, ...] = ()
    peers: tuple[tuple[str, int], ...] = ()

    @property
    def key(self) -> str:
        """The engine's identifier: v1 hex if present, else v2 hex."""
        key = self.v1 or self.v2
        if key is None:  # unreachable: the parser refuses a magnet without a hash
            raise ValueError("magnet without an info-hash")
        return key

    def canonical_uri(self) -> str:
        """A magnet URI containing only the validated fields."""
        parts: list[str] = []
        if self.v1:
            parts.append(f"xt=urn:btih:{self.v1}")
        if self.v2:
            parts.append(f"xt=urn:btmh:1220{self.v2}")
        if self.name:
            parts.append("dn=" + quote(self.name, safe=""))
        parts += ["tr=" + quote(t, safe="") for t in self.trackers]
        parts += ["ws=" + quote(w, safe="") for w in self.web_seeds]
        parts += [f"x.pe={_fmt_peer(h, p)}" for h, p in self.peers]
        return "magnet:?" + "&".join(parts)


def _fmt_peer(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _decode(value: str) -> str:
    if _CONTROL.search(value):
        raise InvalidMagnet("control characters in magnet")
    try:
        out = unquote(value.replace("+", " "), encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidMagnet("magnet is not valid UTF-8") from exc
    if _CONTROL.search(out):
        raise InvalidMagnet("control characters in magnet")
    return out


def _parse_xt(value: str) -> tuple[str | None, str | None]:
    low = value.lower()
    if low.startswith("urn:btih:"):
        h = value[9:]
        if _HEX40.match(h):
            return h.lower(), None
        if _B32.match(h):
            return binascii.hexlify(base64.b32decode(h.upper())).decode(), None
        raise InvalidMagnet("malformed btih info-hash")
    if low.startswith("urn:btmh:"):
        m = _BTMH.match(value[9:])
        if m is None:
            raise InvalidMagnet("malformed btmh info-hash (only sha2-256 is supported)")
        return None, m.group(1).lower()
    raise InvalidMagnet("unsupported xt")


def parse_magnet(
    uri: str,
    *,
    allow_private: bool = False,
    max_length: int = 8192,
    max_trackers: int = 64,
) -> Magnet:
    """Parse and validate `uri`; raises InvalidMagnet or BlockedAddress."""
    if not isinstance(uri, str) or len(uri) > max_length:
        raise InvalidMagnet("magnet URI too long")
    if not uri[:8].lower() == "magnet:?":
        raise InvalidMagnet("not a magnet URI")
    v1: str | None = None
    v2: str | None = None
    name: str | None = None
    trackers: list[str] = []
    seeds: list[str] = []
    peers: list[tuple[str, int]] = []
    query = uri[8:].split("#", 1)[0]
    for item in query.split("&"):
        if not item:
            continue
        key, sep, raw = item.partition("=")
        if not sep:
            raise InvalidMagnet("malformed magnet parameter")
        key = key.lower()
        value = _decode(raw)
        if key == "xt" or re.fullmatch(r"xt\.\d{1,3}", key):
            a, b = _parse_xt(value)
            if (a and v1 and a != v1) or (b and v2 and b != v2):
                raise InvalidMagnet("conflicting info-hashes")
            v1, v2 = a or v1, b or v2
        elif key == "dn":
            if len(value) > MAX_NAME_LENGTH:
                raise InvalidMagnet("display name too long")
            name = value
        elif key == "tr" or re.fullmatch(r"tr\.\d{1,3}", key):
            if len(trackers) >= max_trackers:
                raise InvalidMagnet("too many trackers")
            url = check_url(value, TRACKER_SCHEMES, allow_private)
            if url not in trackers:
                trackers.append(url)
        elif key == "ws":
            if len(seeds) >= MAX_WEB_SEEDS:
                raise InvalidMagnet("too many web seeds")
            url = check_url(value, WEB_SEED_SCHEMES, allow_private)
            if url not in seeds:
                seeds.append(url)
        elif key == "x.pe":
            if len(peers) >= MAX_PEERS:
                raise InvalidMagnet("too many peers")
            peers.append(check_peer(value, allow_private))
        # Anything else (dht=, xs=, as=, so=, ...) is dropped, never forwarded.
    if v1 is None and v2 is None:
        raise InvalidMagnet("magnet without a BitTorrent info-hash")
    return Magnet(v1, v2, name, tuple(trackers), tuple(seeds), tuple(peers))


__all__ = ["BlockedAddress", "InvalidMagnet", "Magnet", "parse_magnet"]
