"""Opaque, HMAC-signed keyset cursors: pure encode/decode, bound to the query they page through.

A cursor is ``base64url(json) . base64url(hmac-sha256[:16])``; anything else is a ``CursorError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

MAX_CURSOR_LENGTH = 512
_TAG_BYTES = 16


class CursorError(ValueError):
    """The cursor was not issued by this service for this query (tampered, truncated, foreign)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cursor_key(secret: str) -> bytes:
    """The cursor MAC key, derived from the service secret so it signs nothing else."""
    return hmac.new(secret.encode(), b"torrent-streamer/catalog-cursor/v1", hashlib.sha256).digest()


def encode_cursor(key: bytes, payload: dict[str, Any]) -> str:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode()
    tag = hmac.new(key, body, hashlib.sha256).digest()[:_TAG_BYTES]
    return f"{_b64(body)}.{_b64(tag)}"


def decode_cursor(key: bytes, token: str) -> dict[str, Any]:
    if len(token) > MAX_CURSOR_LENGTH or token.count(".") != 1:
        raise CursorError("malformed cursor")
    body_text, tag_text = token.split(".")
    try:
        body, tag = _unb64(body_text), _unb64(tag_text)
    except (binascii.Error, ValueError):
        raise CursorError("malformed cursor") from None
    expected = hmac.new(key, body, hashlib.sha256).digest()[:_TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        raise CursorError("cursor signature does not verify")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise CursorError("malformed cursor") from None
    if not isinstance(payload, dict):
        raise CursorError("malformed cursor")
    return payload
