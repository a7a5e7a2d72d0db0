"""Engine snapshots and rows turned into the API's response models (no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from torrent_streamer.engine import ReaderStatus, TorrentStatus
from torrent_streamer.media.service import MediaService
from torrent_streamer.streaming.subtitles import is_subtitle
from torrent_streamer.torrents.models import LibraryEntry, Torrent
from torrent_streamer.torrents.names import display_name
from torrent_streamer.torrents.schemas import (
    AdminTorrentPublic,
    FilePublic,
    PlaybackStatsPublic,
    ReaderPublic,
    StreamEvent,
    TorrentDetail,
    TorrentPublic,
)

_STATES = {"metadata", "checking", "downloading", "seeding", "paused", "error"}


def reader_public(reader: ReaderStatus) -> ReaderPublic:
    eta = reader.seconds_to_start
    return ReaderPublic(
        file_index=reader.file_index,
        position=reader.position,
        buffered_ahead_bytes=reader.buffered_ahead_bytes,
        seconds_to_start=None if eta < 0 else round(eta, 3),
    )


def dead_reason(give_up_seconds: float) -> str:
    minutes = max(1, round(give_up_seconds / 60))
    return (
        f"No peer sent this torrent's details within {minutes} minute{'' if minutes == 1 else 's'}. "
        "Retry, or remove it from your library."
    )


def torrent_public(
    entry: LibraryEntry, torrent: Torrent, status: TorrentStatus | None, *, dead_after: float | None = None
) -> TorrentPublic:
    """``status`` None: the engine does not hold it now (evicted); it is re-added on the next stream.

    ``dead_after`` set: the magnet's metadata timed out after that many seconds (state ``timed-out``).
    """
    if dead_after is not None:
        return TorrentPublic(
            id=entry.id,
            info_hash=torrent.info_hash,
            name=display_name(status.name if status and status.name else torrent.name),
            total_size=0,
            state="timed-out",
            progress=0.0,
            peers=status.peers if status else 0,
            seeds=status.seeds if status else 0,
            download_rate=0,
            upload_rate=0,
            error=dead_reason(dead_after),
            added_at=entry.added_at,
        )
    return TorrentPublic(
        id=entry.id,
        info_hash=torrent.info_hash,
        name=display_name(status.name if status and status.name else torrent.name),
        total_size=status.total_size if status and status.has_metadata else torrent.total_size,
        state=status.state if status and status.state in _STATES else "missing",  # type: ignore[arg-type]
        progress=round(status.progress, 4) if status else 0.0,
        peers=status.peers if status else 0,
        seeds=status.seeds if status else 0,
        download_rate=status.download_rate if status else 0,
        upload_rate=status.upload_rate if status else 0,
        error=status.error if status else None,
        added_at=entry.added_at,
    )


def own_readers(status: TorrentStatus | None, viewer: uuid.UUID) -> list[ReaderStatus]:
    """Issue 12, item 11: a user sees only the positions of readers they opened, never another user's."""
    return [r for r in (status.readers if status else []) if r.owner == str(viewer)]


def torrent_detail(
    entry: LibraryEntry,
    torrent: Torrent,
    status: TorrentStatus | None,
    subtitle_url: Callable[[int], str],
    *,
    dead_after: float | None = None,
) -> TorrentDetail:
    files = [
        FilePublic(
            index=f.index,
            name=display_name(f.name),
            size=f.size,
            mime=f.mime,
            streamable=f.streamable,
            subtitle_url=subtitle_url(f.index) if is_subtitle(f.name) else None,
        )
        for f in (status.files if status else [])
    ]
    readers = [reader_public(r) for r in own_readers(status, entry.user_id)]
    estimates = [r.seconds_to_start for r in readers if r.seconds_to_start is not None]
    return TorrentDetail(
        **torrent_public(entry, torrent, status, dead_after=dead_after).model_dump(),
        files=files,
        readers=readers,
        start_estimate_seconds=min(estimates) if estimates else None,
    )


def playback_stats(media: MediaService | None, info_hash: str) -> PlaybackStatsPublic | None:
    """The media service's figures for this torrent, when it has played over HLS."""
    stats = media.playback.get(info_hash) if media is not None else None
    if media is None or stats is None:
        return None
    return PlaybackStatsPublic(
        first_segment_seconds=stats.first_segment_seconds,
        last_seek_seconds=stats.last_seek_seconds,
        encoder_restarts=stats.encoder_restarts,
        active_encoders=media.pool.active_for(info_hash),
    )


def admin_torrent(torrent: Torrent, holders: int, status: TorrentStatus | None) -> AdminTorrentPublic:
    return AdminTorrentPublic(
        info_hash=torrent.info_hash,
        name=display_name(status.name if status and status.name else torrent.name),
        total_size=status.total_size if status and status.has_metadata else torrent.total_size,
        holders=holders,
        state=status.state if status and status.state in _STATES else "missing",  # type: ignore[arg-type]
        progress=round(status.progress, 4) if status else 0.0,
        node_id=torrent.node_id,
        added_at=torrent.added_at,
        last_watched_at=torrent.last_watched_at,
    )


def stream_event(status: TorrentStatus | None, viewer: uuid.UUID) -> StreamEvent:
    return StreamEvent(
        state=status.state if status and status.state in _STATES else "missing",  # type: ignore[arg-type]
        progress=round(status.progress, 4) if status else 0.0,
        peers=status.peers if status else 0,
        seeds=status.seeds if status else 0,
        download_rate=status.download_rate if status else 0,
        upload_rate=status.upload_rate if status else 0,
        readers=[reader_public(r) for r in own_readers(status, viewer)],
    )


def file_name(status: TorrentStatus | None, index: int) -> str | None:
    """A file's display name while the engine holds the torrent's metadata."""
    for f in status.files if status else []:
        if f.index == index:
            return display_name(f.name)
    return None
