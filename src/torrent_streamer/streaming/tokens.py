"""Signed stream tokens: who may read which file until when, carried in the stream URL's path.

Format ``<payload>.<mac>`` (urlsafe base64, no padding); payload packs version, user, session,
library entry, file index and expiry; mac = HMAC-SHA256 under a key derived for this purpose only,
over the payload and the torrent's info-hash. The info-hash travels in the URL beside the token
(``/stream/{info_hash}/{token}``, the balancer's routing key), so changing it breaks the MAC.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from torrent_streamer.core.errors import Unauthorized

VERSION = 1
KEY_PURPOSE = b"torrent-streamer/stream-token/v1"
MAX_TOKEN_LENGTH = 256
_LAYOUT = struct.Struct(">B16s16s16sIQ")  # version, user, session, entry, file index, expiry (unix s)


class StreamTokenInvalid(Unauthorized):
    slug, title = "stream-token-invalid", "Invalid stream token"


class StreamTokenExpired(Unauthorized):
    slug, title = "stream-token-expired", "Stream token expired"


@dataclass(frozen=True, slots=True)
class StreamClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    entry_id: uuid.UUID
    file_index: int
    expires_at: datetime
    info_hash: str = ""  # lower-case hex; carried in the URL path, bound by the MAC


def derive_key(secret_key: str) -> bytes:
    """A key used for stream tokens only, so other HMAC uses of the secret cannot forge them."""
    return hmac.new(secret_key.encode(), KEY_PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or not all(c.isalnum() or c in "-_" for c in text) or not text.isascii():
        raise ValueError("not urlsafe base64")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:  # non-zero padding bits: another spelling of the same bytes
        raise ValueError("not canonical base64")
    return data


class StreamTokenSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes, info_hash: str) -> bytes:
        return hmac.new(self._key, payload + b"|" + info_hash.lower().encode("ascii"), hashlib.sha256).digest()

    def issue(self, claims: StreamClaims) -> str:
        payload = _LAYOUT.pack(
            VERSION,
            claims.user_id.bytes,
            claims.session_id.bytes,
            claims.entry_id.bytes,
            claims.file_index,
            int(claims.expires_at.timestamp()),
        )
        return f"{_b64(payload)}.{_b64(self._mac(payload, claims.info_hash))}"

    def verify(self, token: str, now: datetime, info_hash: str = "") -> StreamClaims:
        """The claims of a genuine, unexpired token for ``info_hash`` (the URL's segment).

        ``StreamTokenInvalid``/``StreamTokenExpired`` else; a token presented under another
        info-hash than it was issued for fails the MAC check.
        """
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1 or not info_hash.isascii():
            raise StreamTokenInvalid("The stream link is not valid.")
        payload_text, mac_text = token.split(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (ValueError, binascii.Error):
            raise StreamTokenInvalid("The stream link is not valid.") from None
        if not hmac.compare_digest(mac, self._mac(payload, info_hash)) or len(payload) != _LAYOUT.size:
            raise StreamTokenInvalid("The stream link is not valid.")
        version, user, session, entry, index, expires = _LAYOUT.unpack(payload)
        if version != VERSION:
            raise StreamTokenInvalid("The stream link is not valid.")
        expires_at = datetime.fromtimestamp(expires, UTC)
        if now >= expires_at:
            raise StreamTokenExpired("The stream link has expired; ask for a new one.")
        return StreamClaims(
            uuid.UUID(bytes=user),
            uuid.UUID(bytes=session),
            uuid.UUID(bytes=entry),
            index,
            expires_at,
            info_hash.lower(),
        )
