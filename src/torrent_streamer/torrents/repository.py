"""All SQL of the torrents domain: torrents, library entries, watch history, the takedown list.

Functions take an ``AsyncSession`` and never commit; the route commits once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.core.db import new_uuid
from torrent_streamer.torrents.models import BlockedInfoHash, LibraryEntry, Torrent, WatchHistory


async def lock_user_library(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise library changes of one user until commit (PostgreSQL advisory lock).

    SQLite needs none: the first write takes the database write lock until commit.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(user_id.bytes[:8], "big", signed=True)
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def upsert_torrent(
    session: AsyncSession, *, info_hash: str, name: str, total_size: int, node_id: str, now: datetime
) -> Torrent:
    """The torrent row for ``info_hash``, created once even when users add it concurrently."""
    values = {
        "id": new_uuid(),
        "info_hash": info_hash,
        "name": name,
        "total_size": total_size,
        "node_id": node_id,
        "added_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(Torrent).values(**values).on_conflict_do_nothing(index_elements=["info_hash"])
    await session.execute(statement)
    torrent = (await session.execute(select(Torrent).where(Torrent.info_hash == info_hash))).scalar_one()
    return torrent


async def count_live_entries(session: AsyncSession, user_id: uuid.UUID, dead_before: datetime) -> int:
    """Entries that count towards the limit: all but magnets still without metadata added before ``dead_before``."""
    dead = (Torrent.total_size == 0) & (LibraryEntry.added_at < dead_before)
    statement = (
        select(func.count())
        .select_from(LibraryEntry)
        .join(Torrent, Torrent.id == LibraryEntry.torrent_id)
        .where(LibraryEntry.user_id == user_id, ~dead)
    )
    return int((await session.execute(statement)).scalar_one())


async def find_entry_for_torrent(
    session: AsyncSession, user_id: uuid.UUID, torrent_id: uuid.UUID
) -> LibraryEntry | None:
    statement = select(LibraryEntry).where(LibraryEntry.user_id == user_id, LibraryEntry.torrent_id == torrent_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def add_entry(session: AsyncSession, *, user_id: uuid.UUID, torrent_id: uuid.UUID, now: datetime) -> LibraryEntry:
    entry = LibraryEntry(id=new_uuid(), user_id=user_id, torrent_id=torrent_id, added_at=now)
    session.add(entry)
    await session.flush()
    return entry


async def get_entry(
    session: AsyncSession, user_id: uuid.UUID, entry_id: uuid.UUID
) -> tuple[LibraryEntry, Torrent] | None:
    """The user's entry with its torrent; ``None`` also when the entry is another user's."""
    statement = (
        select(LibraryEntry, Torrent)
        .join(Torrent, Torrent.id == LibraryEntry.torrent_id)
        .where(LibraryEntry.id == entry_id, LibraryEntry.user_id == user_id)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (row[0], row[1])


async def list_entries(session: AsyncSession, user_id: uuid.UUID, limit: int) -> Sequence[tuple[LibraryEntry, Torrent]]:
    statement = (
        select(LibraryEntry, Torrent)
        .join(Torrent, Torrent.id == LibraryEntry.torrent_id)
        .where(LibraryEntry.user_id == user_id)
        .order_by(LibraryEntry.added_at.desc(), LibraryEntry.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(statement)).all()]


async def delete_entry(session: AsyncSession, entry: LibraryEntry) -> None:
    await session.delete(entry)
    await session.flush()


async def torrent_holders(session: AsyncSession, torrent_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(LibraryEntry).where(LibraryEntry.torrent_id == torrent_id)
    return int((await session.execute(statement)).scalar_one())


async def delete_torrent(session: AsyncSession, torrent_id: uuid.UUID) -> None:
    await session.execute(delete(Torrent).where(Torrent.id == torrent_id))


async def touch_torrent(session: AsyncSession, torrent: Torrent, now: datetime) -> None:
    torrent.last_watched_at = now
    await session.flush()


async def update_metadata(session: AsyncSession, torrent: Torrent, name: str, total_size: int) -> None:
    torrent.name, torrent.total_size = name[:512], total_size
    await session.flush()


# --- watch history ---------------------------------------------------------------------------
async def get_history(session: AsyncSession, entry_id: uuid.UUID, file_index: int) -> WatchHistory | None:
    statement = select(WatchHistory).where(WatchHistory.entry_id == entry_id, WatchHistory.file_index == file_index)
    return (await session.execute(statement)).scalar_one_or_none()


async def add_history(session: AsyncSession, item: WatchHistory) -> None:
    session.add(item)
    await session.flush()


async def list_history(
    session: AsyncSession, user_id: uuid.UUID, limit: int
) -> Sequence[tuple[WatchHistory, LibraryEntry, Torrent]]:
    statement = (
        select(WatchHistory, LibraryEntry, Torrent)
        .join(LibraryEntry, LibraryEntry.id == WatchHistory.entry_id)
        .join(Torrent, Torrent.id == LibraryEntry.torrent_id)
        .where(WatchHistory.user_id == user_id)
        .order_by(WatchHistory.updated_at.desc(), WatchHistory.id)
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in (await session.execute(statement)).all()]


# --- takedown list ---------------------------------------------------------------------------
async def is_blocked(session: AsyncSession, info_hashes: Sequence[str]) -> bool:
    statement = select(func.count()).select_from(BlockedInfoHash).where(BlockedInfoHash.info_hash.in_(info_hashes))
    return int((await session.execute(statement)).scalar_one()) > 0


async def list_blocked(session: AsyncSession, limit: int) -> Sequence[BlockedInfoHash]:
    statement = select(BlockedInfoHash).order_by(BlockedInfoHash.created_at.desc(), BlockedInfoHash.id).limit(limit)
    return (await session.execute(statement)).scalars().all()


async def find_blocked(session: AsyncSession, info_hash: str) -> BlockedInfoHash | None:
    statement = select(BlockedInfoHash).where(BlockedInfoHash.info_hash == info_hash)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_blocked(session: AsyncSession, blocked_id: uuid.UUID) -> BlockedInfoHash | None:
    return await session.get(BlockedInfoHash, blocked_id)


async def add_blocked(session: AsyncSession, item: BlockedInfoHash) -> None:
    session.add(item)
    await session.flush()


async def delete_blocked(session: AsyncSession, item: BlockedInfoHash) -> None:
    await session.delete(item)
    await session.flush()


async def list_all_torrents(session: AsyncSession, limit: int) -> Sequence[tuple[Torrent, int]]:
    """Every torrent with how many libraries hold it (admin view), most recently added first."""
    holders = func.count(LibraryEntry.id)
    statement = (
        select(Torrent, holders)
        .outerjoin(LibraryEntry, LibraryEntry.torrent_id == Torrent.id)
        .group_by(Torrent.id)
        .order_by(Torrent.added_at.desc(), Torrent.id)
        .limit(limit)
    )
    return [(row[0], int(row[1])) for row in (await session.execute(statement)).all()]


async def torrent_by_info_hash(session: AsyncSession, info_hash: str) -> Torrent | None:
    return (await session.execute(select(Torrent).where(Torrent.info_hash == info_hash))).scalar_one_or_none()
