"""Catalog wiring: the Torznab client built at start-up, rate limits, and typed route dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated

import httpx
from fastapi import Depends
from prometheus_client import Counter

from torrent_streamer import __version__
from torrent_streamer.catalog.cursor import cursor_key
from torrent_streamer.catalog.scrape import Scraper
from torrent_streamer.catalog.scrape_job import run_forever
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
    scrape_http, job = None, None
    if services.settings.catalog_scrape_enabled:
        scrape_http, job = start_scrape_job(services)
    try:
        yield
    finally:
        services.extras.pop(TORZNAB_KEY, None)
        if job is not None:
            job.cancel()
            with suppress(asyncio.CancelledError):
                await job
        if scrape_http is not None:
            await scrape_http.aclose()
        await client.aclose()


def start_scrape_job(services: Services) -> tuple[httpx.AsyncClient, asyncio.Task[None]]:
    """The swarm-health job, bounded by the ``catalog_scrape_*`` settings and counted in metrics."""
    settings = services.settings
    http = httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(settings.catalog_scrape_timeout_seconds),
        limits=httpx.Limits(max_connections=settings.catalog_scrape_concurrency),
        headers={"User-Agent": f"torrent-streamer/{__version__}"},
        trust_env=False,
    )
    requests = Counter(
        "ts_catalog_scrape_requests_total",
        "Tracker scrape requests by scheme and outcome",
        ["scheme", "status"],
        registry=services.metrics.registry,
    )
    scraper = Scraper(
        http=http,
        allow_private=settings.engine_allow_private_networks,
        timeout=settings.catalog_scrape_timeout_seconds,
        concurrency=settings.catalog_scrape_concurrency,
        requests_per_second=settings.catalog_scrape_requests_per_second,
        on_request=lambda scheme, status: requests.labels(scheme, status).inc(),
    )
    job = asyncio.create_task(
        run_forever(
            services.sessionmaker,
            scraper,
            now=services.clock.now,
            batch=settings.catalog_scrape_batch,
            interval=settings.catalog_scrape_interval_seconds,
        )
    )
    return http, job


async def get_torznab(services: ServicesDep) -> TorznabClient | None:
    client: TorznabClient | None = services.extras.get(TORZNAB_KEY)
    return client


async def get_cursor_key(services: ServicesDep) -> bytes:
    secret = services.settings.secret_key
    if secret is None:  # ensure_dev_secrets or the production checks always set it
        raise RuntimeError("TS_SECRET_KEY is not configured")
    return cursor_key(secret.get_secret_value())


TorznabDep = Annotated[TorznabClient | None, Depends(get_torznab)]
CursorKeyDep = Annotated[bytes, Depends(get_cursor_key)]
