"""Catalog wiring: the Torznab client built at start-up, rate limits, and typed route dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends

from torrent_streamer import __version__
from torrent_streamer.catalog.cursor import cursor_key
from torrent_streamer.catalog.torznab import MemoryCache, RedisCache, ResultCache, TorznabClient
from torrent_streamer.core.deps import ServicesDep
from torrent_streamer.core.state import Services

TORZNAB_KEY = "catalog.torznab"
SEARCH_LIMIT_PER_USER = "60/minute"
SEARCH_LIMIT_PER_IP = "120/minute"
SUBMIT_LIMIT_PER_USER = "20/hour"
REPORT_LIMIT_PER_USER = "30/hour"


@asynccontextmanager
async def catalog_lifespan(services: Services) -> AsyncIterator[None]:
    """One Torznab client for every indexer: its own pinned HTTP client (each redirect hop checked too)."""
    cache: ResultCache = (
        RedisCache(services.redis, services.settings.redis_key_prefix)
        if services.redis is not None
        else MemoryCache(services.clock)
    )
    client = TorznabClient(
        cache,
        allow_private=services.settings.engine_allow_private_networks,
        user_agent=f"torrent-streamer/{__version__}",
    )
    services.extras[TORZNAB_KEY] = client
    try:
        yield
    finally:
        services.extras.pop(TORZNAB_KEY, None)
        await client.aclose()


def get_torznab(services: ServicesDep) -> TorznabClient | None:
    client: TorznabClient | None = services.extras.get(TORZNAB_KEY)
    return client


def get_cursor_key(services: ServicesDep) -> bytes:
    secret = services.settings.secret_key
    if secret is None:  # ensure_dev_secrets or the production checks always set it
        raise RuntimeError("TS_SECRET_KEY is not configured")
    return cursor_key(secret.get_secret_value())


TorznabDep = Annotated[TorznabClient | None, Depends(get_torznab)]
CursorKeyDep = Annotated[bytes, Depends(get_cursor_key)]
