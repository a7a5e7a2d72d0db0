"""Application-level encryption of stored secrets (TOTP secrets, indexer API keys).

AES-256-GCM with a key ring (``kid:key`` entries, newest first): new values use the newest
key, old values keep decrypting until re-encrypted, so keys rotate without downtime.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class DecryptionError(Exception):
    """A stored ciphertext cannot be decrypted with any key of the ring."""


class SecretBox:
    def __init__(self, key_ring: str) -> None:
        self._keys: dict[str, AESGCM] = {}
        self._current: str | None = None
        for entry in (part.strip() for part in key_ring.split(",")):
            if not entry:
                continue
            kid, sep, material = entry.partition(":")
            if not sep or not kid.isalnum():
                raise ValueError("encryption key entries look like 'kid:base64key'")
            try:
                raw = base64.urlsafe_b64decode(material.encode())
            except (binascii.Error, ValueError):
                raise ValueError("encryption key is not valid base64") from None
            if len(raw) != 32:
                raise ValueError("encryption keys must be 32 bytes (AES-256)")
            self._keys[kid] = AESGCM(raw)
            if self._current is None:
                self._current = kid
        if self._current is None:
            raise ValueError("the encryption key ring is empty")

    @property
    def current_kid(self) -> str:
        if self._current is None:  # unreachable: __init__ refuses an empty ring
            raise ValueError("the encryption key ring is empty")
        return self._current

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt; ``context`` (e.g. ``"totp:<user id>"``) is bound as associated data."""
        nonce = secrets.token_bytes(12)
        sealed = self._keys[self.current_kid].encrypt(nonce, plaintext.encode(), context.encode())
        blob = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{_VERSION}.{self.current_kid}.{blob}"

    def decrypt(self, token: str, *, context: str) -> str:
        try:
            version, kid, blob = token.split(".", 2)
            raw = base64.urlsafe_b64decode(blob.encode())
        except (ValueError, binascii.Error):
            raise DecryptionError("malformed ciphertext") from None
        key = self._keys.get(kid)
        if version != _VERSION or key is None or len(raw) < 13:
            raise DecryptionError("unknown key or format")
        try:
            return key.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag:
            raise DecryptionError("ciphertext does not verify") from None

    def needs_reencryption(self, token: str) -> bool:
        return not token.startswith(f"{_VERSION}.{self.current_kid}.")
