"""SQL of the cluster package: the torrent sources table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import column, select, table, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.cluster.models import TorrentSource

_TORRENTS = table("torrents", column("info_hash"))  # the torrents domain's table, read-only here


async def get_source(session: AsyncSession, info_hash: str) -> TorrentSource | None:
    return await session.get(TorrentSource, info_hash)


async def record_source(
    session: AsyncSession, *, info_hash: str, magnet: str | None, metainfo: bytes | None, now: datetime
) -> None:
    """Remember how a torrent was added (first add wins); its torrent row must exist."""
    values = {"info_hash": info_hash, "magnet": magnet, "metainfo": metainfo, "updated_at": now}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(TorrentSource).values(**values).on_conflict_do_nothing(index_elements=["info_hash"]))


async def store_metainfo(session: AsyncSession, *, info_hash: str, metainfo: bytes, now: datetime) -> bool:
    """Fill in the .torrent of a torrent's source; False when the torrent has no row (removed)."""
    found = (
        await session.execute(select(TorrentSource.metainfo).where(TorrentSource.info_hash == info_hash))
    ).one_or_none()
    if found is None:
        exists = await session.execute(select(_TORRENTS.c.info_hash).where(_TORRENTS.c.info_hash == info_hash))
        if exists.first() is None:
            return False
        await record_source(session, info_hash=info_hash, magnet=None, metainfo=metainfo, now=now)
    elif found.metainfo is None:
        await session.execute(
            update(TorrentSource)
            .where(TorrentSource.info_hash == info_hash, TorrentSource.metainfo.is_(None))
            .values(metainfo=metainfo, updated_at=now)
        )
    return True


async def existing_torrents(session: AsyncSession, info_hashes: list[str]) -> set[str]:
    """Those of ``info_hashes`` that still have a torrent row (some library holds them)."""
    if not info_hashes:
        return set()
    rows = await session.execute(select(_TORRENTS.c.info_hash).where(_TORRENTS.c.info_hash.in_(info_hashes)))
    return {str(row[0]) for row in rows}
