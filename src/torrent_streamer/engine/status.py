"""Builds the public status values of the libtorrent engine from cached per-torrent state.

Pure reads of alert-fed snapshots: never a blocking libtorrent call per request.
"""

from __future__ import annotations

from .errors import FileIndexError, user_error
from .torrent import TorrentState
from .types import EngineStats, FileInfo, TorrentStatus


def status_of(t: TorrentState) -> TorrentStatus:
    """Public status of a torrent from its cached snapshot (no libtorrent call)."""
    s = t.snap
    info = t.info
    rate = s.download_rate if s else 0
    readers = [r.status(rate) for r in t.readers if not r.internal]
    error = t.error or (user_error("torrent_error", s.error) if s and s.error else None)
    if s is None:
        state = "error" if error else ("checking" if info.has_metadata else "metadata")
        return TorrentStatus(
            info.info_hash,
            info.name,
            state,
            0.0,
            info.total_size,
            0,
            0,
            0,
            0,
            0,
            info.has_metadata,
            error,
            list(info.files),
            readers,
            info.info_hashes,
        )
    return TorrentStatus(
        info_hash=info.info_hash,
        name=info.name,
        state="error" if error else s.state,
        progress=s.progress,
        total_size=info.total_size,
        downloaded_bytes=s.total_done,
        peers=s.peers,
        seeds=s.seeds,
        download_rate=s.download_rate,
        upload_rate=s.upload_rate,
        has_metadata=info.has_metadata,
        error=error,
        files=list(info.files),
        readers=readers,
        info_hashes=info.info_hashes,
    )


def engine_stats(torrents: list[TorrentState]) -> EngineStats:
    """Engine-wide figures for metrics."""
    snaps = [t.snap for t in torrents if t.snap is not None]
    return EngineStats(
        active_torrents=sum(1 for s in snaps if s.state not in ("paused", "error")),
        readers=sum(len(t.readers) for t in torrents),
        download_rate=sum(s.download_rate for s in snaps),
        upload_rate=sum(s.upload_rate for s in snaps),
        cache_bytes_used=sum(s.total_done for s in snaps),
    )


def initial_priorities(files: tuple[FileInfo, ...]) -> list[int]:
    """Before anyone watches: only the main video (largest streamable file) at low priority.

    Keeping one file wanted keeps the torrent "downloading", so peers stay connected.
    """
    n = max((f.index for f in files), default=-1) + 1
    prios = [0] * n
    candidates = [f for f in files if f.streamable] or list(files)
    if candidates:
        prios[max(candidates, key=lambda f: f.size).index] = 1
    return prios


def find_file(files: tuple[FileInfo, ...], index: int) -> FileInfo:
    for f in files:
        if f.index == index:
            return f
    raise FileIndexError("no such file in the torrent")
