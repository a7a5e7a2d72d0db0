"""Application-level encryption of stored secrets (SR-4.2) with a rotating key ring (SR-4.3)."""

from __future__ import annotations

import pytest

from torrent_streamer.core.crypto import DecryptionError, SecretBox
from torrent_streamer.core.secrets import new_encryption_key_entry


def test_round_trip_and_context_binding() -> None:
    box = SecretBox(new_encryption_key_entry())
    token = box.encrypt("JBSWY3DPEHPK3PXP", context="totp:user-1")
    assert "JBSWY3DPEHPK3PXP" not in token
    assert box.decrypt(token, context="totp:user-1") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(DecryptionError):
        box.decrypt(token, context="totp:user-2")


def test_each_encryption_uses_a_fresh_nonce() -> None:
    box = SecretBox(new_encryption_key_entry())
    assert box.encrypt("same", context="c") != box.encrypt("same", context="c")


def test_rotation_keeps_old_values_readable_and_flags_them() -> None:
    old = new_encryption_key_entry()
    token = SecretBox(old).encrypt("secret", context="c")
    rotated = SecretBox(f"{new_encryption_key_entry()},{old}")
    assert rotated.decrypt(token, context="c") == "secret"
    assert rotated.needs_reencryption(token)
    assert not rotated.needs_reencryption(rotated.encrypt("secret", context="c"))


@pytest.mark.parametrize("tamper", ["", "v1.x.AAAA", "garbage", "v2.k.AAAA"])
def test_malformed_or_tampered_ciphertext_is_refused(tamper: str) -> None:
    box = SecretBox(new_encryption_key_entry())
    with pytest.raises(DecryptionError):
        box.decrypt(tamper, context="c")


def test_flipped_bit_is_refused() -> None:
    box = SecretBox(new_encryption_key_entry())
    token = box.encrypt("secret", context="c")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        box.decrypt(flipped, context="c")


@pytest.mark.parametrize("ring", ["", "nokey", "k:short", "k:!!!!"])
def test_bad_key_rings_are_rejected(ring: str) -> None:
    with pytest.raises(ValueError, match="encryption key"):
        SecretBox(ring)
