"""The JWT signing key ring (Ed25519), stored in the database so every instance shares it.

New keys come from ``keys rotate``; old keys keep verifying until ``keys retire`` (SR-4.3).
Each instance caches the ring briefly and reloads early when it meets an unknown ``kid``.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from torrent_streamer.auth import repository
from torrent_streamer.auth.models import SigningKey
from torrent_streamer.core.clock import Clock
from torrent_streamer.core.crypto import DecryptionError, SecretBox
from torrent_streamer.core.errors import Conflict, NotFound
from torrent_streamer.users.models import User

log = structlog.get_logger("torrent_streamer.auth.keyring")

ALGORITHM = "EdDSA"
CACHE_SECONDS = 30.0
UNKNOWN_KID_RELOAD_SECONDS = 5.0


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _context(kid: str) -> str:
    return f"signing-key:{kid}"


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    generation: int
    public_key: Ed25519PublicKey
    private_key: Ed25519PrivateKey

    def jwk(self) -> dict[str, str]:
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def new_signing_key(secret_box: SecretBox, *, generation: int, now: datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = _b64url(hashlib.sha256(public_raw).digest())[:22]
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return SigningKey(
        kid=kid,
        generation=generation,
        algorithm=ALGORITHM,
        public_key_pem=public_pem,
        private_key_enc=secret_box.encrypt(private_pem, context=_context(kid)),
        created_at=now,
    )


def _load(row: SigningKey, secret_box: SecretBox) -> LoadedKey:
    private = serialization.load_pem_private_key(
        secret_box.decrypt(row.private_key_enc, context=_context(row.kid)).encode(), password=None
    )
    public = serialization.load_pem_public_key(row.public_key_pem.encode())
    if not isinstance(private, Ed25519PrivateKey) or not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"signing key {row.kid} is not Ed25519")
    return LoadedKey(kid=row.kid, generation=row.generation, public_key=public, private_key=private)


async def rotate(
    session: AsyncSession, secret_box: SecretBox, now: datetime, *, generation: int | None = None
) -> SigningKey:
    """Add a new current key (the caller commits; a racing insert fails on ``generation``)."""
    generation = generation or (await repository.max_key_generation(session)) + 1
    key = new_signing_key(secret_box, generation=generation, now=now)
    session.add(key)
    await session.flush()
    return key


async def retire(session: AsyncSession, kid: str, now: datetime) -> SigningKey:
    """Retire a key: tokens it signed stop verifying. The last active key cannot be retired."""
    active = await repository.active_signing_keys(session)
    target = next((key for key in active if key.kid == kid), None)
    if target is None:
        raise NotFound("no active signing key with that kid")
    if len(active) == 1:
        raise Conflict("cannot retire the only active signing key: rotate first")
    target.retired_at = now
    await session.flush()
    return target


class KeyRing:
    """The active keys of the ring, cached in memory; the newest generation signs."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox, clock: Clock) -> None:
        self._sessionmaker = sessionmaker
        self._secret_box = secret_box
        self._clock = clock
        self._keys: dict[str, LoadedKey] = {}
        self._current: LoadedKey | None = None
        self._loaded_at = float("-inf")
        self._unknown_reload_at = float("-inf")

    async def ensure_key(self) -> None:
        """Create the first key when the ring is empty; safe when several instances start at once."""
        for _ in range(3):
            async with self._sessionmaker() as session:
                keys = await repository.all_signing_keys(session)  # one statement: one snapshot
                if any(key.retired_at is None for key in keys):
                    break
                # Racing instances read the same empty ring and claim the same generation, so
                # exactly one insert succeeds; the others reload the winner's key.
                generation = max((key.generation for key in keys), default=0) + 1
                try:
                    await rotate(session, self._secret_box, self._clock.now(), generation=generation)
                    await session.commit()
                    log.info("signing_key_created")
                    break
                except IntegrityError:
                    await session.rollback()  # another instance created it: load theirs
        await self.reload()

    async def reload(self) -> None:
        async with self._sessionmaker() as session:
            rows = await repository.active_signing_keys(session)
        keys = {row.kid: _load(row, self._secret_box) for row in rows}
        self._keys = keys
        self._current = max(keys.values(), key=lambda k: k.generation) if keys else None
        self._loaded_at = time.monotonic()

    async def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:
            await self.reload()

    async def has_signing_key(self) -> bool:
        await self._fresh()
        return self._current is not None

    async def signing_key(self) -> LoadedKey:
        await self._fresh()
        if self._current is None:
            await self.ensure_key()
        if self._current is None:  # pragma: no cover - ensure_key always leaves a key
            raise RuntimeError("no signing key")
        return self._current

    async def verification_key(self, kid: str) -> Ed25519PublicKey | None:
        """The public key for ``kid`` among the server's own active keys, else None."""
        await self._fresh()
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._unknown_reload_at > UNKNOWN_KID_RELOAD_SECONDS:
            self._unknown_reload_at = time.monotonic()  # rotated on another instance? reload, rate-limited
            await self.reload()
            key = self._keys.get(kid)
        return key.public_key if key else None

    async def jwks(self) -> dict[str, Any]:
        await self._fresh()
        ordered = sorted(self._keys.values(), key=lambda k: k.generation, reverse=True)
        return {"keys": [key.jwk() for key in ordered]}


TOTP_SAMPLE = 20  # start-up decrypts this many stored TOTP secrets besides every active signing key


async def stored_secrets_problem(sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox) -> str | None:
    """One line when ``TS_ENCRYPTION_KEYS`` cannot decrypt what the database holds (``serve`` refuses)."""
    async with sessionmaker() as session:
        keys = await repository.active_signing_keys(session)
        totp = (
            await session.execute(
                select(User.id, User.totp_secret_enc).where(User.totp_secret_enc.is_not(None)).limit(TOTP_SAMPLE)
            )
        ).all()
    failed = [
        f"signing key {row.kid}" for row in keys if not _decrypts(secret_box, row.private_key_enc, _context(row.kid))
    ]
    failed += ["a TOTP secret" for user_id, value in totp if not _decrypts(secret_box, value or "", f"totp:{user_id}")][
        :1
    ]
    if not failed:
        return None
    return (
        f"TS_ENCRYPTION_KEYS cannot decrypt stored secrets ({', '.join(failed)}): put the key that encrypted them "
        "back into TS_ENCRYPTION_KEYS (newest first, comma-separated) and start again"
    )


def _decrypts(secret_box: SecretBox, token: str, context: str) -> bool:
    try:
        secret_box.decrypt(token, context=context)
    except DecryptionError:
        return False
    return True
