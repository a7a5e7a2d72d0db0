"""The background swarm-health job: each round scrapes the trackers of the entries checked longest ago.

Runs in the app's lifespan (``catalog_lifespan``); one transaction per round; works are refreshed so
ranking sees the new health at once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from torrent_streamer.catalog import work_repository
from torrent_streamer.catalog.health import health_score
from torrent_streamer.catalog.models import CatalogEntry, EntryStatus
from torrent_streamer.catalog.scrape import ScrapeError, Scraper, Swarm, trackers_of

log = structlog.get_logger(__name__)


async def scrape_round(
    sessionmaker: async_sessionmaker[AsyncSession], scraper: Scraper, *, now: datetime, batch: int
) -> int:
    """Scrape one batch of approved entries (never checked first, then oldest check); returns how many
    entries got fresh numbers. Every entry of the batch is stamped ``health_checked_at``."""
    async with sessionmaker() as session:
        stmt = (
            sa.select(CatalogEntry)
            .where(CatalogEntry.status == EntryStatus.approved, CatalogEntry.info_hash_v1.is_not(None))
            .order_by(CatalogEntry.health_checked_at.asc().nulls_first(), CatalogEntry.id)
            .limit(batch)
        )
        entries = list((await session.execute(stmt)).scalars())
        by_tracker: dict[str, list[bytes]] = defaultdict(list)
        for entry in entries:
            for tracker in trackers_of(entry.magnet):
                by_tracker[tracker].append(bytes.fromhex(entry.info_hash_v1 or ""))
        best: dict[bytes, Swarm] = {}

        async def ask(tracker: str, hashes: list[bytes]) -> None:
            try:
                found = await scraper.scrape(tracker, hashes)
            except ScrapeError as exc:
                log.info("catalog.scrape.failed", tracker=tracker, status=exc.status)
                return
            for info_hash, swarm in found.items():
                if info_hash not in best or swarm.seeders > best[info_hash].seeders:
                    best[info_hash] = swarm

        await asyncio.gather(*(ask(t, h) for t, h in by_tracker.items()))
        fresh = 0
        for entry in entries:
            swarm = best.get(bytes.fromhex(entry.info_hash_v1 or ""))
            if swarm is not None:
                entry.seeders, entry.leechers = swarm.seeders, swarm.leechers
                entry.health = health_score(swarm.seeders, swarm.leechers)
                fresh += 1
            entry.health_checked_at = now
        await session.flush()
        await work_repository.refresh_works(session, [e.work_id for e in entries])
        await session.commit()
        return fresh


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    scraper: Scraper,
    *,
    now: Callable[[], datetime],
    batch: int,
    interval: float,
) -> None:
    """Scrape rounds every ``interval`` seconds (the first after one interval) until cancelled; a failed
    round is logged, not fatal."""
    while True:
        await asyncio.sleep(interval)
        try:
            await scrape_round(sessionmaker, scraper, now=now(), batch=batch)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("catalog.scrape.round_failed")
