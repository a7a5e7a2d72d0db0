"""The services built once by the app factory's lifespan and handed to routes by dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from torrent_streamer.core.clock import Clock
from torrent_streamer.core.config import Settings
from torrent_streamer.core.crypto import SecretBox
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.core.ratelimit import Limiter


@dataclass
class Services:
    settings: Settings
    db_engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None
    limiter: Limiter
    metrics: Metrics
    clock: Clock
    secret_box: SecretBox
    # Domain-owned singletons (torrent engine, key ring, indexer client…) registered at start-up.
    extras: dict[str, Any] = field(default_factory=dict)
