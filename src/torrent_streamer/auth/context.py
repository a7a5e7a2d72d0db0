"""The auth domain's start-up state (key ring, password hasher) and the per-request context.

``auth_lifespan`` builds it once (creating the first signing key if needed) into ``Services.extras``
and runs the retention schedule (``auth/retention.py``) in the background.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import structlog

from torrent_streamer.auth.keyring import KeyRing
from torrent_streamer.auth.passwords import Passwords
from torrent_streamer.auth.retention import retention_lifespan
from torrent_streamer.core.config import Settings
from torrent_streamer.core.state import Services

EXTRAS_KEY = "auth"

log = structlog.get_logger("torrent_streamer.auth")


@dataclass(frozen=True)
class AuthRuntime:
    keyring: KeyRing
    passwords: Passwords


@dataclass(frozen=True)
class RequestMeta:
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class AuthContext:
    """What auth services need: the app services plus the key ring and hasher."""

    services: Services
    runtime: AuthRuntime

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def keyring(self) -> KeyRing:
        return self.runtime.keyring

    @property
    def passwords(self) -> Passwords:
        return self.runtime.passwords

    def now(self) -> datetime:
        return self.services.clock.now()


def build_runtime(services: Services) -> AuthRuntime:
    return AuthRuntime(
        keyring=KeyRing(services.sessionmaker, services.secret_box, services.clock),
        passwords=Passwords(
            concurrency=services.settings.password_hash_concurrency, queue=services.settings.password_hash_queue
        ),
    )


def auth_context(services: Services) -> AuthContext:
    runtime = services.extras.get(EXTRAS_KEY)
    if not isinstance(runtime, AuthRuntime):
        raise RuntimeError("auth_lifespan did not run")
    return AuthContext(services, runtime)


async def _signing_key_ready(services: Services) -> bool:
    runtime = services.extras.get(EXTRAS_KEY)
    return isinstance(runtime, AuthRuntime) and await runtime.keyring.has_signing_key()


@asynccontextmanager
async def auth_lifespan(services: Services) -> AsyncIterator[None]:
    """Build the auth runtime; create the first signing key (later, lazily, if the DB is down now)."""
    runtime = build_runtime(services)
    services.extras[EXTRAS_KEY] = runtime
    services.extras.setdefault("readiness_checks", {})["signing_keys"] = _signing_key_ready
    await runtime.passwords.prepare()
    try:
        await runtime.keyring.ensure_key()
    except Exception as exc:  # noqa: BLE001 - the service starts without its DB; /readyz reports it
        log.warning("signing_key_unavailable", error=type(exc).__name__)
    async with retention_lifespan(services):  # the scheduled `prune` (docs/operations.md)
        yield
