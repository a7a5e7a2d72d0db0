"""Development secrets: generated once into ``<data>/keys`` (mode 0600), never in production.

Production takes every secret from the environment or ``*_FILE`` (see ``config``).
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from torrent_streamer.core.config import Settings


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)


def _read_or_create(path: Path, factory: str) -> str:
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process created it first
            _write_private(path, factory)
    os.chmod(path, 0o600)
    return path.read_text(encoding="utf-8").strip()


def new_encryption_key_entry() -> str:
    """A fresh ``kid:base64key`` entry for the encryption key ring (AES-256-GCM)."""
    kid = secrets.token_hex(4)
    return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


def ensure_dev_secrets(settings: Settings) -> Settings:
    """Fill missing secrets from files under ``<data>/keys``, creating them on first start."""
    if settings.is_production:
        return settings
    updates: dict[str, SecretStr] = {}
    keys = settings.keys_dir
    if settings.secret_key is None:
        updates["secret_key"] = SecretStr(_read_or_create(keys / "secret.key", secrets.token_urlsafe(48)))
    if settings.encryption_keys is None:
        entry = new_encryption_key_entry()
        updates["encryption_keys"] = SecretStr(_read_or_create(keys / "encryption.keys", entry))
    if not updates:
        return settings
    return settings.model_copy(update=updates)
