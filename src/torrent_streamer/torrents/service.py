"""The torrents domain's rules: adding (takedown list, per-user limit, shared info-hashes),
listing with live engine status, removal when nobody holds a torrent, history, takedowns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.cluster import repository as cluster_repository
from torrent_streamer.cluster.node import ClusterNode
from torrent_streamer.core.config import Settings
from torrent_streamer.core.errors import Conflict, NotFound, Unprocessable
from torrent_streamer.core.state import Services
from torrent_streamer.engine import (
    Engine,
    EngineConfig,
    EngineError,
    FileInfo,
    Magnet,
    TorrentNotFound,
    TorrentStatus,
)
from torrent_streamer.engine import parse_magnet as engine_parse_magnet
from torrent_streamer.engine.torrentfile import parse_torrent_file
from torrent_streamer.torrents import repository
from torrent_streamer.torrents.errors import (
    FileNotPlayable,
    TorrentBlocked,
    TorrentLimitReached,
    TorrentNotInLibrary,
    http_error,
)
from torrent_streamer.torrents.models import BlockedInfoHash, LibraryEntry, Torrent, WatchHistory
from torrent_streamer.torrents.names import display_name
from torrent_streamer.torrents.runtime import ENGINE_KEY, engine_config

LIBRARY_SCAN_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Added:
    entry: LibraryEntry
    torrent: Torrent
    created: bool
    engine_added: bool  # the engine did not hold this info-hash before: undo it if the add fails


def parse_magnet(uri: str, config: EngineConfig) -> Magnet:
    try:
        magnet = engine_parse_magnet(
            uri,
            allow_private=config.allow_private_networks,
            max_length=config.max_magnet_length,
            max_trackers=config.max_magnet_trackers,
        )
    except EngineError as exc:
        raise http_error(exc) from exc
    if any(h and not h.strip("0") for h in (magnet.v1, magnet.v2)):
        raise Unprocessable(
            "This magnet link's hash is all zeros, so it names no torrent. Copy the whole link again.",
            slug="invalid-magnet",
        )
    return magnet


async def info_hashes_of_torrent_file(data: bytes, config: EngineConfig) -> list[str]:
    """Every info-hash (v1 and/or v2) of a .torrent, validated with the engine's decode limits."""
    try:
        info = await anyio.to_thread.run_sync(parse_torrent_file, data, config)
    except EngineError as exc:
        raise http_error(exc) from exc
    hashes = info.info_hashes()
    return [str(h) for h, present in ((hashes.v1, hashes.has_v1()), (hashes.v2, hashes.has_v2())) if present]


def magnet_hashes(magnet: Magnet) -> list[str]:
    return [h for h in (magnet.v1, magnet.v2) if h]


def engine_status(engine: Engine, info_hash: str) -> TorrentStatus | None:
    try:
        return engine.status(info_hash)
    except TorrentNotFound:
        return None


async def live_statuses(
    cluster: ClusterNode | None, engine: Engine, info_hashes: list[str]
) -> dict[str, TorrentStatus]:
    """Status on any node: this engine's, else what the holder published through Redis (cluster)."""
    if cluster is not None:
        return await cluster.statuses(info_hashes)
    return {h: s for h in info_hashes if (s := engine_status(engine, h)) is not None}


async def ensure_in_engine(session: AsyncSession, engine: Engine, torrent: Torrent) -> TorrentStatus:
    """The torrent's engine status; when this node's engine does not hold it (evicted, or held by
    another node of a cluster) it is added at once from the stored source: the .torrent, plus the
    magnet's trackers and peers. No metadata round trip once any node has stored it."""
    status = engine_status(engine, torrent.info_hash)
    if status is not None:
        return status
    source = await cluster_repository.get_source(session, torrent.info_hash)
    kind = "btih:" if len(torrent.info_hash) == 40 else "btmh:1220"
    magnet = (source.magnet if source else None) or f"magnet:?xt=urn:{kind}{torrent.info_hash}"
    try:
        await engine.add_magnet(magnet, source.metainfo if source else None)
        return engine.status(torrent.info_hash)
    except EngineError as exc:
        raise http_error(exc) from exc


async def add_to_library(
    session: AsyncSession,
    engine: Engine,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    hashes: list[str],
    add: Magnet | bytes,
    now: datetime,
) -> Added:
    """Add a magnet or .torrent to the user's library; the engine shares one copy per info-hash.

    Few round trips (issue 15): the lock and the block check of every hash are one statement, the
    torrent's upsert returns the user's entry and the limit's counts; then the entry, its source and
    the audit event. ``tests/integration/test_add_round_trips.py`` holds the count.
    """
    if await repository.lock_library_unless_blocked(session, user_id, hashes):
        raise TorrentBlocked("This torrent has been taken down.")
    engine_added = engine_status(engine, hashes[0]) is None
    try:
        info = await (
            engine.add_magnet(add.canonical_uri()) if isinstance(add, Magnet) else engine.add_torrent_file(add)
        )
    except EngineError as exc:
        raise http_error(exc) from exc
    if set(info.info_hashes) - set(hashes):  # a cached info dict showed another hash (hybrid torrent)
        await refuse_if_blocked(session, engine, info.info_hash, info.info_hashes, drop=engine_added)
    try:
        added = await _record(
            session,
            engine,
            settings,
            user_id=user_id,
            info_name=info.name,
            info_hash=info.info_hash,
            total_size=info.total_size,
            engine_added=engine_added,
            now=now,
        )
        magnet, metainfo = (add.canonical_uri(), None) if isinstance(add, Magnet) else (None, add)
        await cluster_repository.record_source(
            session, info_hash=info.info_hash, magnet=magnet, metainfo=metainfo, now=now
        )
        return added
    except BaseException:
        if engine_added:  # nobody held it before this request: do not leave an orphan in the engine
            await drop_from_engine(engine, info.info_hash)
        raise


async def _record(
    session: AsyncSession,
    engine: Engine,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    info_name: str,
    info_hash: str,
    total_size: int,
    engine_added: bool,
    now: datetime,
) -> Added:
    cutoff = now - timedelta(seconds=settings.library_metadata_give_up_seconds)
    upserted = await repository.upsert_torrent(
        session,
        info_hash=info_hash,
        name=info_name or info_hash,
        total_size=total_size,
        node_id=settings.node_id,
        now=now,
        user_id=user_id,
        dead_before=cutoff,
    )
    torrent = upserted.torrent
    if upserted.entry is not None:
        return Added(upserted.entry, torrent, created=False, engine_added=False)
    await _check_room(session, engine, settings, user_id, upserted, now=now)
    entry = await repository.add_entry(session, user_id=user_id, torrent_id=torrent.id, now=now)
    return Added(entry, torrent, created=True, engine_added=engine_added)


async def _check_room(
    session: AsyncSession,
    engine: Engine,
    settings: Settings,
    user_id: uuid.UUID,
    upserted: repository.Upserted,
    *,
    now: datetime,
) -> None:
    """``check_limit`` for one more entry, from the counts the upsert returned.

    A magnet without recorded metadata added before the give-up time is dead unless its metadata
    came meanwhile (then it is live). So the live count lies between ``entries - dead`` and
    ``entries``: only when the limit falls in between are the user's magnets read and looked up in
    the engine. Read only: no row is updated while this transaction holds the torrent's row (the
    listing records their sizes).
    """
    limit = settings.engine_max_active_torrents_per_user
    if upserted.entries + 1 <= limit:
        return
    live = upserted.entries - upserted.dead
    if upserted.dead > 0 and live + 1 <= limit:
        cutoff = now - timedelta(seconds=settings.library_metadata_give_up_seconds)
        for entry, torrent in await repository.list_entries(session, user_id, LIBRARY_SCAN_LIMIT):
            if torrent.total_size == 0 and entry.added_at < cutoff:
                status = engine_status(engine, torrent.info_hash)
                if status is not None and status.has_metadata:
                    live += 1
        if live + 1 <= limit:
            return
    raise _limit_reached(limit)


def _limit_reached(limit: int) -> TorrentLimitReached:
    return TorrentLimitReached(
        f"Your library is full: you can keep {limit} torrents at once. Remove one from your library to add this."
    )


def is_dead(torrent: Torrent, entry: LibraryEntry, status: TorrentStatus | None, now: datetime, give_up: float) -> bool:
    """A magnet whose metadata never came: no size recorded, none in the engine, older than ``give_up``."""
    if torrent.total_size > 0 or (status is not None and status.has_metadata):
        return False
    return (now - entry.added_at).total_seconds() >= give_up


async def check_limit(session: AsyncSession, settings: Settings, user_id: uuid.UUID, *, now: datetime) -> None:
    """The per-user limit counts live torrents: a dead magnet (metadata timed out) frees its slot."""
    limit = settings.engine_max_active_torrents_per_user
    cutoff = now - timedelta(seconds=settings.library_metadata_give_up_seconds)
    if await repository.count_live_entries(session, user_id, cutoff) > limit:
        raise _limit_reached(limit)


async def retry(
    session: AsyncSession, engine: Engine, settings: Settings, *, user_id: uuid.UUID, entry_id: uuid.UUID, now: datetime
) -> tuple[LibraryEntry, Torrent]:
    """Try a dead magnet again: it counts as new (its slot is taken again) and the engine asks peers anew."""
    entry, torrent = await get_owned(session, user_id, entry_id)
    await repository.lock_user_library(session, user_id)
    await refresh_library_metadata(session, engine, user_id)
    entry.added_at = now
    await session.flush()
    await check_limit(session, settings, user_id, now=now)
    await ensure_in_engine(session, engine, torrent)
    return entry, torrent


async def get_owned(session: AsyncSession, user_id: uuid.UUID, entry_id: uuid.UUID) -> tuple[LibraryEntry, Torrent]:
    """The caller's entry, or 404 (another user's entry is indistinguishable from none)."""
    found = await repository.get_entry(session, user_id, entry_id)
    if found is None:
        raise TorrentNotInLibrary("No such torrent in your library.")
    return found


async def get_owned_unblocked(
    session: AsyncSession, user_id: uuid.UUID, entry_id: uuid.UUID
) -> tuple[LibraryEntry, Torrent]:
    """``get_owned``, then 451 when the torrent's info-hash is on the takedown list: one query."""
    found = await repository.get_entry_if_unblocked(session, user_id, entry_id)
    if found is None:
        raise TorrentNotInLibrary("No such torrent in your library.")
    entry, torrent, blocked = found
    if blocked:
        raise TorrentBlocked("This torrent has been taken down.")
    return entry, torrent


async def refresh_metadata(session: AsyncSession, torrent: Torrent, status: TorrentStatus | None) -> None:
    """Record name and size once the engine has metadata (magnets start without them)."""
    if status is not None and status.has_metadata and torrent.total_size != status.total_size:
        await repository.update_metadata(session, torrent, status.name or torrent.name, status.total_size)


async def refresh_library_metadata(session: AsyncSession, engine: Engine, user_id: uuid.UUID) -> None:
    """Record the size of every magnet of the user's library whose metadata has arrived meanwhile."""
    for _, torrent in await repository.list_entries(session, user_id, LIBRARY_SCAN_LIMIT):
        if torrent.total_size == 0:
            await refresh_metadata(session, torrent, engine_status(engine, torrent.info_hash))


async def remove_from_library(session: AsyncSession, user_id: uuid.UUID, entry_id: uuid.UUID) -> str | None:
    """Delete the entry; return the info-hash to drop from the engine when nobody holds it any more."""
    entry, torrent = await get_owned(session, user_id, entry_id)
    await repository.lock_user_library(session, user_id)
    await repository.delete_entry(session, entry)
    if await repository.torrent_holders(session, torrent.id) > 0:
        return None
    await repository.delete_torrent(session, torrent.id)
    return torrent.info_hash


async def release_library(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """Account deletion (issue 12, item 11): delete the user's library; return the info-hashes that
    nobody holds any more (their rows go too) so the caller drops them from the engine after commit."""
    await repository.lock_user_library(session, user_id)
    orphans: list[str] = []
    for entry, torrent in await repository.list_entries(session, user_id, 1_000_000):
        await repository.delete_entry(session, entry)
        if await repository.torrent_holders(session, torrent.id) == 0:
            await repository.delete_torrent(session, torrent.id)
            orphans.append(torrent.info_hash)
    return orphans


async def drop_orphans(services: Services, info_hashes: list[str]) -> None:
    """After commit: drop torrents nobody holds from the engine (their data is deleted), if it runs."""
    engine: Engine | None = services.extras.get(ENGINE_KEY)
    if engine is None:
        return
    for info_hash in info_hashes:
        await drop_from_engine(engine, info_hash)


async def refuse_if_blocked(
    session: AsyncSession, engine: Engine, info_hash: str, hashes: Sequence[str], *, drop: bool = True
) -> None:
    """Takedowns hold across hash forms: refuse (451) when any hash of the torrent is blocked.

    Called again once metadata shows every hash (a `btmh`-only magnet of a hybrid torrent blocked by
    its v1 hash); a torrent found blocked this late is dropped from the engine like a fresh block.
    """
    if await repository.is_blocked(session, sorted({info_hash, *hashes})):
        if drop:
            await drop_from_engine(engine, info_hash)
        raise TorrentBlocked("This torrent has been taken down.")


async def drop_from_engine(engine: Engine, info_hash: str) -> None:
    """After commit: remove a torrent nobody holds (its data is deleted)."""
    try:
        await engine.remove(info_hash, delete_files=True)
    except TorrentNotFound:
        return


async def save_history(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    entry_id: uuid.UUID,
    file_index: int,
    position: float,
    duration: float | None,
    files: list[FileInfo] | None,
    now: datetime,
) -> tuple[WatchHistory, Torrent]:
    """Record a position for a file that can be played (a text file or an unknown index has none)."""
    _, torrent = await get_owned(session, user_id, entry_id)
    if files is not None:
        file = next((f for f in files if f.index == file_index), None)
        if file is None:
            raise NotFound("This torrent has no such file.", slug="file-not-found")
        if not file.streamable:
            raise FileNotPlayable(f"{display_name(file.name)} is not a video or audio file, so it has no position.")
    item = await repository.get_history(session, entry_id, file_index)
    if item is None:
        item = WatchHistory(
            user_id=user_id,
            entry_id=entry_id,
            file_index=file_index,
            position_seconds=position,
            duration_seconds=duration,
            updated_at=now,
        )
        await repository.add_history(session, item)
    else:
        item.position_seconds, item.duration_seconds, item.updated_at = position, duration, now
        await session.flush()
    return item, torrent


async def block(
    session: AsyncSession, *, info_hash: str, reason: str, actor_id: uuid.UUID, now: datetime
) -> BlockedInfoHash:
    if await repository.find_blocked(session, info_hash) is not None:
        raise Conflict("This info-hash is already blocked.", slug="already-blocked")
    item = BlockedInfoHash(info_hash=info_hash, reason=reason, actor_id=actor_id, created_at=now)
    await repository.add_blocked(session, item)
    return item


async def unblock(session: AsyncSession, blocked_id: uuid.UUID) -> BlockedInfoHash:
    item = await repository.get_blocked(session, blocked_id)
    if item is None:
        raise NotFound("No such blocked info-hash.")
    await repository.delete_blocked(session, item)
    return item


def config_of(settings: Settings) -> EngineConfig:
    return engine_config(settings)
