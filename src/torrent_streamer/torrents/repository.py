"""All SQL of the torrents domain: torrents, library entries, watch history, the takedown list.

Functions take an ``AsyncSession`` and never commit; the route commits once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from torrent_streamer.core import revocation
from torrent_streamer.core.db import new_uuid
from torrent_streamer.torrents.models import BlockedInfoHash, LibraryEntry, Torrent, WatchHistory


def _library_lock_key(user_id: uuid.UUID) -> int:
    return int.from_bytes(user_id.bytes[:8], "big", signed=True)


async def lock_user_library(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise library changes of one user until commit (PostgreSQL advisory lock).

    SQLite needs none: the first write takes the database write lock until commit.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _library_lock_key(user_id)})


def _any_blocked(info_hashes: Sequence[str]) -> ColumnElement[bool]:
    return exists().where(BlockedInfoHash.info_hash.in_(info_hashes))


async def lock_library_unless_blocked(session: AsyncSession, user_id: uuid.UUID, info_hashes: Sequence[str]) -> bool:
    """One round trip before an add: ``lock_user_library`` and whether any of ``info_hashes`` is blocked.

    The block check may read a snapshot from before the lock was granted (PostgreSQL takes it at
    the start of the statement); that is as fresh as checking first and locking after. Reads that
    must see every change committed under the lock run in later statements.
    """
    blocked = _any_blocked(info_hashes)
    if session.get_bind().dialect.name == "postgresql":
        statement = select(func.pg_advisory_xact_lock(_library_lock_key(user_id)), blocked)
        return bool((await session.execute(statement)).one()[1])
    return bool((await session.execute(select(blocked))).scalar_one())


@dataclass(frozen=True, slots=True)
class Upserted:
    """The torrent row, and the caller's library as its upsert saw it."""

    torrent: Torrent
    entry: LibraryEntry | None  # the user's entry for this torrent, when there is one
    entries: int  # every entry of the user's library
    dead: int  # of those, magnets without recorded metadata added before ``dead_before``


async def upsert_torrent(
    session: AsyncSession,
    *,
    info_hash: str,
    name: str,
    total_size: int,
    node_id: str,
    now: datetime,
    user_id: uuid.UUID,
    dead_before: datetime,
) -> Upserted:
    """The torrent row for ``info_hash``, created once even when users add it concurrently, with the
    user's entry for it and the counts the per-user limit needs, in one statement.

    ``ON CONFLICT DO UPDATE`` with a no-op ``SET`` (of ``name``, a column the app role may update)
    makes ``RETURNING`` give the existing row too (``DO NOTHING`` returns nothing then). The counts
    are subqueries of the same ``RETURNING``: on SQLite this statement is the request's first write,
    so they are read under the write lock; on PostgreSQL the advisory lock was taken by an earlier
    statement (``lock_library_unless_blocked``). SQLite renders the columns of ``RETURNING`` without
    table names, subqueries included, so each subquery level reads one table and refers to an outer
    one only where a name exists there alone (``torrent_id``).
    """
    values = {
        "id": new_uuid(),
        "info_hash": info_hash,
        "name": name,
        "total_size": total_size,
        "node_id": node_id,
        "added_at": now,
    }
    mine = LibraryEntry.user_id == user_id
    this_torrent = select(Torrent.id).where(Torrent.info_hash == info_hash).scalar_subquery()
    own = select(LibraryEntry.id).where(mine, LibraryEntry.torrent_id == this_torrent).scalar_subquery()
    own_added = select(LibraryEntry.added_at).where(mine, LibraryEntry.torrent_id == this_torrent).scalar_subquery()
    entries = select(func.count()).select_from(LibraryEntry).where(mine).scalar_subquery()
    size_of_held = select(Torrent.total_size).where(Torrent.id == LibraryEntry.torrent_id).scalar_subquery()
    dead = (
        select(func.count())
        .select_from(LibraryEntry)
        .where(mine, LibraryEntry.added_at < dead_before, size_of_held == 0)
        .scalar_subquery()
    )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Torrent)
        .values(**values)
        .on_conflict_do_update(index_elements=["info_hash"], set_={"name": Torrent.name})
        .returning(Torrent, own, own_added, entries, dead)
    )
    torrent, entry_id, entry_added_at, n_entries, n_dead = (await session.execute(statement)).one()
    entry = None
    if entry_id is not None:
        entry = LibraryEntry(id=entry_id, user_id=user_id, torrent_id=torrent.id, added_at=entry_added_at)
        make_transient_to_detached(entry)  # persistent as read, without a SELECT of its own
        session.add(entry)
    return Upserted(torrent, entry, int(n_entries), int(n_dead))


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


async def get_entry_if_unblocked(
    session: AsyncSession, user_id: uuid.UUID, entry_id: uuid.UUID
) -> tuple[LibraryEntry, Torrent, bool] | None:
    """``get_entry`` and whether the torrent's info-hash is on the takedown list, in one query."""
    blocked = exists().where(BlockedInfoHash.info_hash == Torrent.info_hash)
    statement = (
        select(LibraryEntry, Torrent, blocked)
        .join(Torrent, Torrent.id == LibraryEntry.torrent_id)
        .where(LibraryEntry.id == entry_id, LibraryEntry.user_id == user_id)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (row[0], row[1], bool(row[2]))


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
    revocation.bump()  # stream grants of this process check their entry again


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
    return bool((await session.execute(select(_any_blocked(info_hashes)))).scalar_one())


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
