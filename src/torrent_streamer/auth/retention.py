"""Retention (``torrent-streamer prune``, and every ``TS_PRUNE_INTERVAL_SECONDS`` inside ``serve``):
refresh tokens of revoked or expired families, and audit rows older than ``TS_AUDIT_RETENTION_DAYS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import repository
from torrent_streamer.core import audit
from torrent_streamer.core.audit import AuditAction
from torrent_streamer.core.state import Services

log = structlog.get_logger("torrent_streamer.retention")

PRUNE = AuditAction.PRUNE


@dataclass(frozen=True)
class PruneReport:
    refresh_tokens: int
    audit_events: int


async def prune(services: Services, session: AsyncSession) -> PruneReport:
    """Delete what retention allows (the caller commits); the run itself is audited."""
    now = services.clock.now()
    tokens = await repository.delete_dead_refresh_tokens(session, now)
    cutoff = now - timedelta(days=services.settings.audit_retention_days)
    events = await audit.delete_events_before(session, cutoff)
    audit.record_event(
        session, now=now, action=PRUNE, target_type="retention",
        details={"refresh_tokens": tokens, "audit_events": events, "audit_cutoff": cutoff.isoformat()},
    )  # fmt: skip
    return PruneReport(tokens, events)


async def prune_once(services: Services) -> PruneReport:
    async with services.sessionmaker() as session:
        report = await prune(services, session)
        await session.commit()
    log.info("pruned", refresh_tokens=report.refresh_tokens, audit_events=report.audit_events)
    return report


async def _every_interval(services: Services) -> None:
    while True:
        await asyncio.sleep(services.settings.prune_interval_seconds)
        try:
            await prune_once(services)
        except Exception as exc:  # noqa: BLE001 - a failed run (database down) is retried next interval
            log.warning("prune_failed", error=type(exc).__name__)


@asynccontextmanager
async def retention_lifespan(services: Services) -> AsyncIterator[None]:
    """Run ``prune`` in the background of ``serve``, first one interval after start-up."""
    task = asyncio.create_task(_every_interval(services), name="retention-prune")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
