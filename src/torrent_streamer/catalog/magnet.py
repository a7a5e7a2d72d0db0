"""A strict, pure magnet-link parser: v1 ``btih`` (40 hex or 32 base32) and v2 ``btmh`` (sha2-256 multihash).

No I/O, so property tests can hammer it; the catalog stores the canonical hashes it returns.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

MAX_MAGNET_LENGTH = 4096
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_BASE32_32 = re.compile(r"[A-Za-z2-7]{32}")
_BTMH = re.compile(r"1220[0-9a-fA-F]{64}")  # multihash: sha2-256 (0x12), 32 bytes (0x20)


class MagnetError(ValueError):
    """The text is not a magnet link this service accepts."""


@dataclass(frozen=True)
class Magnet:
    info_hash_v1: str | None  # 40 lowercase hex
    info_hash_v2: str | None  # 64 lowercase hex (the sha256 digest, without the multihash prefix)
    display_name: str | None


def normalise_btih(value: str) -> str:
    """A v1 info-hash as 40 lowercase hex characters (accepts hex or base32)."""
    if _HEX40.fullmatch(value):
        return value.lower()
    if _BASE32_32.fullmatch(value):
        return base64.b32decode(value.upper()).hex()
    raise MagnetError("a v1 info-hash is 40 hex or 32 base32 characters")


def parse_magnet(text: str) -> Magnet:
    if len(text) > MAX_MAGNET_LENGTH:
        raise MagnetError("the magnet link is too long")
    if not text.startswith("magnet:?"):
        raise MagnetError("not a magnet link")
    try:
        params = parse_qsl(text[len("magnet:?") :], keep_blank_values=True, strict_parsing=True, max_num_fields=64)
    except ValueError:
        raise MagnetError("the magnet link is malformed") from None
    v1: str | None = None
    v2: str | None = None
    name: str | None = None
    for key, value in params:
        if key == "xt" and value.startswith("urn:btih:"):
            if v1 is not None:
                raise MagnetError("more than one v1 info-hash")
            v1 = normalise_btih(value[len("urn:btih:") :])
        elif key == "xt" and value.startswith("urn:btmh:"):
            digest = value[len("urn:btmh:") :]
            if v2 is not None or not _BTMH.fullmatch(digest):
                raise MagnetError("a v2 info-hash is a sha2-256 multihash (1220 + 64 hex)")
            v2 = digest[4:].lower()
        elif key == "xt":
            raise MagnetError("unsupported exact topic")
        elif key == "dn":
            name = value[:300] or None
    if v1 is None and v2 is None:
        raise MagnetError("the magnet link has no BitTorrent info-hash")
    return Magnet(info_hash_v1=v1, info_hash_v2=v2, display_name=name)


def build_magnet(info_hash_v1: str, name: str) -> str:
    """A minimal v1 magnet (``xt`` + ``dn``) for entries that arrive with only a hash."""
    if not _HEX40.fullmatch(info_hash_v1):
        raise MagnetError("a v1 info-hash is 40 hex characters")
    return f"magnet:?xt=urn:btih:{info_hash_v1.lower()}&dn={quote(name[:300], safe='')}"
