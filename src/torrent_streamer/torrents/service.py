"""The torrents domain's rules: adding (takedown list, per-user limit, shared info-hashes),
listing with live engine status, removal when nobody holds a torrent, history, takedowns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.cluster import repository as cluster_repository
from torrent_streamer.cluster.node import ClusterNode
from torrent_streamer.core.config import Settings
from torrent_streamer.core.errors import Conflict, NotFound
from torrent_streamer.engine import Engine, EngineConfig, EngineError, Magnet, TorrentNotFound, TorrentStatus
from torrent_streamer.engine import parse_magnet as engine_parse_magnet
from torrent_streamer.engine.torrentfile import parse_torrent_file
from torrent_streamer.torrents import repository
from torrent_streamer.torrents.errors import TorrentBlocked, TorrentLimitReached, TorrentNotInLibrary, http_error
from torrent_streamer.torrents.models import BlockedInfoHash, LibraryEntry, Torrent, WatchHistory
from torrent_streamer.torrents.runtime import engine_config


@dataclass(frozen=True, slots=True)
class Added:
    entry: LibraryEntry
    torrent: Torrent
    created: bool
    engine_added: bool  # the engine did not hold this info-hash before: undo it if the add fails


def parse_magnet(uri: str, config: EngineConfig) -> Magnet:
    try:
        return engine_parse_magnet(
            uri,
            allow_private=config.allow_private_networks,
            max_length=config.max_magnet_length,
            max_trackers=config.max_magnet_trackers,
        )
    except EngineError as exc:
        raise http_error(exc) from exc


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
    """Add a magnet or .torrent to the user's library; the engine shares one copy per info-hash."""
    if await repository.is_blocked(session, hashes):
        raise TorrentBlocked("This torrent has been taken down.")
    await repository.lock_user_library(session, user_id)
    engine_added = engine_status(engine, hashes[0]) is None
    try:
        info = await (
            engine.add_magnet(add.canonical_uri()) if isinstance(add, Magnet) else engine.add_torrent_file(add)
        )
    except EngineError as exc:
        raise http_error(exc) from exc
    try:
        added = await _record(
            session,
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
    settings: Settings,
    *,
    user_id: uuid.UUID,
    info_name: str,
    info_hash: str,
    total_size: int,
    engine_added: bool,
    now: datetime,
) -> Added:
    torrent = await repository.upsert_torrent(
        session,
        info_hash=info_hash,
        name=info_name or info_hash,
        total_size=total_size,
        node_id=settings.node_id,
        now=now,
    )
    existing = await repository.find_entry_for_torrent(session, user_id, torrent.id)
    if existing is not None:
        return Added(existing, torrent, created=False, engine_added=False)
    entry = await repository.add_entry(session, user_id=user_id, torrent_id=torrent.id, now=now)
    limit = settings.engine_max_active_torrents_per_user
    if await repository.count_entries(session, user_id) > limit:
        raise TorrentLimitReached(f"You can hold at most {limit} torrents; remove one first.")
    return Added(entry, torrent, created=True, engine_added=engine_added)


async def get_owned(session: AsyncSession, user_id: uuid.UUID, entry_id: uuid.UUID) -> tuple[LibraryEntry, Torrent]:
    """The caller's entry, or 404 (another user's entry is indistinguishable from none)."""
    found = await repository.get_entry(session, user_id, entry_id)
    if found is None:
        raise TorrentNotInLibrary("No such torrent in your library.")
    return found


async def refresh_metadata(session: AsyncSession, torrent: Torrent, status: TorrentStatus | None) -> None:
    """Record name and size once the engine has metadata (magnets start without them)."""
    if status is not None and status.has_metadata and torrent.total_size != status.total_size:
        await repository.update_metadata(session, torrent, status.name or torrent.name, status.total_size)


async def remove_from_library(session: AsyncSession, user_id: uuid.UUID, entry_id: uuid.UUID) -> str | None:
    """Delete the entry; return the info-hash to drop from the engine when nobody holds it any more."""
    entry, torrent = await get_owned(session, user_id, entry_id)
    await repository.lock_user_library(session, user_id)
    await repository.delete_entry(session, entry)
    if await repository.torrent_holders(session, torrent.id) > 0:
        return None
    await repository.delete_torrent(session, torrent.id)
    return torrent.info_hash


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
    file_count: int | None,
    now: datetime,
) -> tuple[WatchHistory, Torrent]:
    _, torrent = await get_owned(session, user_id, entry_id)
    if file_count is not None and file_index >= file_count:
        raise NotFound("No such file in this torrent.", slug="file-not-found")
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
