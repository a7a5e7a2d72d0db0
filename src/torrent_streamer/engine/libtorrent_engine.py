"""The real engine: one libtorrent session driven from asyncio through an alert thread.

Adds torrents safely, keeps cached status, saves resume data, evicts, and opens readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import libtorrent as lt

from .alerts import AlertPump, ih_of
from .config import EngineConfig
from .errors import (
    EngineError,
    InvalidTorrent,
    MetadataTimeout,
    ReaderClosed,
    StorageError,
    TorrentNotFound,
)
from .events import SAVE_FLAGS, EngineEvents
from .magnet import parse_magnet
from .mp4 import locate_moov
from .netpolicy import check_host
from .reader import LtFileReader
from .session import build_ip_filter, session_settings
from .status import engine_stats, find_file, initial_priorities, status_of
from .store import StateStore, data_dir, delete_data_dir
from .torrent import TorrentState
from .torrentfile import (
    check_metadata,
    key_of,
    lt_limits,
    parse_torrent_file,
    storage_key_of,
    torrent_bytes,
    torrent_info_of,
)
from .types import EngineObserver, EngineStats, FileInfo, MetadataListener, TorrentInfo, TorrentStatus

log = logging.getLogger(__name__)
CLOSE_SAVE_TIMEOUT = 15.0
MAGNET_PRELOAD_FILES = 64  # files at low priority between metadata and our own priorities


class LibtorrentEngine(EngineEvents):
    """`Engine` backed by libtorrent. Create in the app's lifespan; `await start()` first."""

    def __init__(self, config: EngineConfig, observer: EngineObserver | None = None) -> None:
        self.config = config
        self._observer = observer
        self._store = StateStore(config.state_dir)
        self._torrents: dict[str, TorrentState] = {}
        self._aliases: dict[str, str] = {}  # the other hash of a hybrid torrent -> its key
        self._adding: dict[str, asyncio.Future[TorrentState]] = {}
        self._removing: dict[str, tuple[asyncio.Future[None], str]] = {}
        self._removed: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._periodic: list[asyncio.Task[None]] = []
        self._ses: lt.session | None = None
        self._pump: AlertPump | None = None
        self._status_changed = asyncio.Event()
        self._utp_out = False  # outgoing uTP opened by `_utp_fallback`
        self._early_peers: dict[str, list[tuple[str, str]]] = {}  # peer events during `_add`
        self._metadata_listeners: list[MetadataListener] = []

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        """Create the session, start the alert thread, re-add torrents from resume data."""
        cfg = self.config
        await asyncio.to_thread(self._store.ensure)
        await asyncio.to_thread(cfg.download_dir.mkdir, parents=True, exist_ok=True)
        ses = await asyncio.to_thread(_make_session, session_settings(cfg))
        ses.set_ip_filter(build_ip_filter(cfg))
        self._ses = ses
        self._pump = AlertPump(ses, asyncio.get_running_loop(), self._dispatch, self._write_resume)
        self._pump.start()
        for key, buf in await asyncio.to_thread(self._store.load_all_resume, cfg.max_torrent_file_bytes):
            try:
                atp = lt.read_resume_data(buf, lt_limits(cfg))
                ti = atp.ti
                if ti is not None:
                    check_metadata(ti, cfg)
                legacy = atp.save_path if ti is not None and Path(atp.save_path) != self._data_dir(key, ti) else None
                await self._add(atp, key, ti, fresh=False, legacy_path=legacy)
            except (RuntimeError, EngineError) as exc:
                log.warning("dropping unreadable resume data for %s: %s", key, exc)
        self._periodic = [
            asyncio.create_task(self._every(cfg.status_interval, self._post_updates)),
            asyncio.create_task(self._every(cfg.resume_save_interval, self._save_all)),
            asyncio.create_task(self._every(cfg.maintenance_interval, self._maintain)),
        ]

    async def close(self) -> None:
        """Save resume data for every torrent (and wait for it), then stop the session."""
        for task in self._periodic:
            task.cancel()
        self._periodic = []
        if self._ses is None:
            return
        waits: list[asyncio.Future[bool]] = []
        for t in self._torrents.values():
            for r in list(t.readers):
                await r.aclose()
            fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            t.resume_waiters.append(fut)
            t.handle.save_resume_data(SAVE_FLAGS | lt.save_resume_flags_t.flush_disk_cache)
            waits.append(fut)
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), CLOSE_SAVE_TIMEOUT)
        for t in self._torrents.values():
            t.fail_all(ReaderClosed("engine closed"))
        for task in list(self._tasks):
            task.cancel()
        pump, holder = self._pump, [self._ses]
        self._ses, self._pump = None, None
        if pump is not None:
            await asyncio.to_thread(pump.stop)
        await asyncio.to_thread(holder.clear)  # the session's destructor blocks

    @property
    def session(self) -> lt.session:
        if self._ses is None:
            raise EngineError("engine is not started")
        return self._ses

    # -- adding -------------------------------------------------------------------
    async def add_magnet(self, uri: str, metainfo: bytes | None = None) -> TorrentInfo:
        cfg = self.config
        m = parse_magnet(
            uri,
            allow_private=cfg.allow_private_networks,
            max_length=cfg.max_magnet_length,
            max_trackers=cfg.max_magnet_trackers,
        )
        for k in filter(None, (m.v1, m.v2)):
            if (known := self._find(k)) is not None:
                return known.info
        atp = lt.parse_magnet_uri(m.canonical_uri())
        ti = None
        cached = metainfo or await asyncio.to_thread(self._store.load_info, m.key, cfg.max_torrent_file_bytes)
        if cached is not None:
            with contextlib.suppress(EngineError):
                parsed = await asyncio.to_thread(parse_torrent_file, cached, cfg)
                if key_of(parsed.info_hashes()) == m.key:  # metadata of another torrent is ignored
                    ti = parsed
                    atp.ti = ti
        # `x.pe` peers stay in `atp.peers`: libtorrent connects those at once, while
        # `connect_peer` waits for the session's next one-second connection tick.
        t = await self._add(atp, m.key, ti, fresh=True, name=m.name or "")
        t.known_peers.update(ep for ep in m.peers if _is_ip(ep[0]))  # libtorrent takes addresses only
        return t.info

    async def add_torrent_file(self, data: bytes) -> TorrentInfo:
        cfg = self.config
        ti = await asyncio.to_thread(parse_torrent_file, data, cfg)
        key = key_of(ti.info_hashes())
        for k in filter(None, ih_of(ti.info_hashes())):
            if (known := self._find(k)) is not None:
                return known.info
        atp = lt.add_torrent_params()
        atp.ti = ti
        t = await self._add(atp, key, ti, fresh=True)
        return t.info

    async def _add(
        self,
        atp: Any,
        key: str,
        ti: lt.torrent_info | None,
        *,
        fresh: bool,
        name: str = "",
        legacy_path: str | None = None,
    ) -> TorrentState:
        if key in self._torrents:
            return self._torrents[key]
        if key in self._adding:
            return await asyncio.shield(self._adding[key])
        fut: asyncio.Future[TorrentState] = asyncio.get_running_loop().create_future()
        self._adding[key] = fut
        try:
            # Each torrent in its own directory: two torrents never share a file (issue 12, item 1).
            target = self._data_dir(key, ti)
            atp.save_path = legacy_path or str(target)
            atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
            atp.flags &= ~lt.torrent_flags.sequential_download
            if fresh and ti is None:
                # Until we choose files. Not every file at 0: a torrent whose pieces are all
                # unwanted is "finished" the moment metadata arrives, and libtorrent then drops
                # every seed ("upload to upload") and reconnects only after min_reconnect_time.
                atp.flags |= lt.torrent_flags.default_dont_download
                atp.file_priorities = [1] * MAGNET_PRELOAD_FILES
            if fresh and ti is not None:
                atp.file_priorities = initial_priorities(torrent_info_of(key, ti, "").files)
            try:
                handle = await asyncio.to_thread(self.session.add_torrent, atp)
            except RuntimeError as exc:
                raise InvalidTorrent("libtorrent refused the torrent") from exc
            if legacy_path is not None:
                # Data from before per-torrent directories: move it into place, then re-verify every
                # piece (in the shared layout another torrent may have written the same file).
                handle.move_storage(str(target))
                handle.force_recheck()
            t = TorrentState(key, handle, torrent_info_of(key, ti, name))
            if fresh and ti is not None:
                t.file_priorities = list(atp.file_priorities)
            t.peer_log.extend(self._early_peers.pop(key, ()))
            t.ti = ti
            self._aliases.update({h: key for h in t.info.info_hashes if h != key})
            self._removed.discard(key)
            self._torrents[key] = t
            if ti is not None:
                self._spawn(asyncio.to_thread(self._store.save_info, key, torrent_bytes(ti)))
            fut.set_result(t)
            if ti is None and await asyncio.to_thread(handle.torrent_file) is not None:
                # metadata_received_alert raced ahead of our registration
                self._spawn(self._on_metadata(t))
            return t
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()
            raise
        finally:
            del self._adding[key]
            self._early_peers.pop(key, None)

    async def wait_metadata(self, info_hash: str, timeout: float) -> TorrentInfo:
        t = self._get(info_hash)
        try:
            await asyncio.wait_for(t.metadata.wait(), timeout)
        except TimeoutError as exc:
            raise MetadataTimeout("metadata did not arrive in time") from exc
        if t.error and not t.info.has_metadata:
            raise InvalidTorrent(t.error)
        return t.info

    def on_metadata(self, listener: MetadataListener) -> None:
        """Call ``listener(key, every_hash)`` when a magnet's metadata arrives (a hybrid shows both hashes)."""
        self._metadata_listeners.append(listener)

    def connect_peer(self, info_hash: str, host: str, port: int) -> None:
        """Connect a torrent to a peer (ops/tests); the SSRF policy applies."""
        check_host(host, self.config.allow_private_networks)
        t = self._get(info_hash)
        t.known_peers.add((host, port))
        t.handle.connect_peer((host, port))

    # -- status -------------------------------------------------------------------
    def _data_dir(self, key: str, ti: lt.torrent_info | None) -> Path:
        return data_dir(self.config.download_dir, storage_key_of(key, ti))

    def _find(self, info_hash: str) -> TorrentState | None:
        h = info_hash.lower()
        return self._torrents.get(self._aliases.get(h, h))

    def _get(self, info_hash: str) -> TorrentState:
        t = self._find(info_hash)
        if t is None:
            raise TorrentNotFound("unknown torrent")
        return t

    def status(self, info_hash: str) -> TorrentStatus:
        return status_of(self._get(info_hash))

    def list_status(self) -> list[TorrentStatus]:
        return [status_of(t) for t in self._torrents.values()]

    def metainfo(self, info_hash: str) -> bytes | None:
        ti = self._get(info_hash).ti
        return torrent_bytes(ti) if ti is not None else None

    def stats(self) -> EngineStats:
        return engine_stats(list(self._torrents.values()))

    async def wait_status(
        self, info_hash: str, predicate: Callable[[TorrentStatus], bool], timeout: float
    ) -> TorrentStatus:
        """Wait (on state-update alerts, no polling) until `predicate(status)` holds."""
        async with asyncio.timeout(timeout):
            while True:
                st = self.status(info_hash)
                if predicate(st):
                    return st
                await self._status_changed.wait()

    def peer_log(self, info_hash: str) -> list[tuple[str, str]]:
        """Recent peer connects and disconnects of a torrent, oldest first."""
        return list(self._get(info_hash).peer_log)

    def payload_downloaded(self, info_hash: str) -> int:
        """Payload bytes downloaded since the torrent was added to this session."""
        s = self._get(info_hash).snap
        return s.total_payload_download if s else 0

    # -- readers ------------------------------------------------------------------
    async def open_reader(self, info_hash: str, file_index: int, owner: str | None = None) -> LtFileReader:
        t = self._get(info_hash)
        if not t.info.has_metadata:
            await self.wait_metadata(info_hash, self.config.metadata_timeout)
        f = find_file(t.info.files, file_index)
        self.touch(info_hash)
        if t.idle_paused:
            t.idle_paused = False
            t.handle.resume()
        if t.want_file(f.index):
            t.reconnect(self.config.enable_dht)
        r = LtFileReader(t, f, self.config, self._observer, self._reader_closed)
        r.owner = owner
        t.readers.add(r)
        if f.streamable and f.index not in t.moov and f.name.lower().endswith(_MP4_SUFFIXES):
            t.moov[f.index] = (0, 0)  # placeholder: located once
            self._spawn(self._locate_moov(t, f))
        return r

    async def _locate_moov(self, t: TorrentState, f: FileInfo) -> None:
        r = LtFileReader(t, f, self.config, None, self._reader_closed, internal=True)
        t.readers.add(r)
        try:
            found = await locate_moov(r)
        except EngineError:
            found = None
        finally:
            await r.aclose()
        if found is None:
            t.moov.pop(f.index, None)
            return
        start, end, duration = found
        t.moov[f.index] = (start, end)
        if duration:
            t.bitrate[f.index] = max(64 * 1024, int(f.size / duration))

    def _reader_closed(self, r: LtFileReader) -> None:
        t = r.torrent
        t.readers.discard(r)
        t.apply_deadlines()

    def touch(self, info_hash: str) -> None:
        self._get(info_hash).last_watched = time.time()

    # -- removal and eviction -----------------------------------------------------
    async def remove(self, info_hash: str, delete_files: bool = True) -> None:
        t = self._get(info_hash)
        key, storage = t.key, storage_key_of(t.key, t.ti)
        del self._torrents[key]
        self._aliases = {k: v for k, v in self._aliases.items() if v != key}
        self._removed.add(key)
        for r in list(t.readers):
            await r.aclose()
        t.fail_all(ReaderClosed("torrent was removed"))
        if t.info_written is not None:  # a re-add right after this must find the cached info dict
            with contextlib.suppress(OSError, ValueError):
                await asyncio.shield(t.info_written)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._removing[key] = (done, "deleted" if delete_files else "removed")
        flags = lt.session.delete_files if delete_files else 0
        self.session.remove_torrent(t.handle, flags)
        try:
            await asyncio.wait_for(done, CLOSE_SAVE_TIMEOUT)
        except TimeoutError as exc:
            raise StorageError("removing the torrent timed out") from exc
        finally:
            self._removing.pop(key, None)
            await asyncio.to_thread(self._store.delete_resume, key)
            if delete_files:  # libtorrent deletes the files; the directory is the torrent's own
                await asyncio.to_thread(delete_data_dir, self.config.download_dir, storage)
                if key != storage:  # a btmh-only magnet removed before its move to the v1 directory ended
                    await asyncio.to_thread(delete_data_dir, self.config.download_dir, key)

    async def evict_to_limit(self) -> list[str]:
        """Remove least-recently-watched torrents without readers until under the limit."""
        evicted: list[str] = []
        used = self.stats().cache_bytes_used
        for t in sorted(self._torrents.values(), key=lambda t: t.last_watched):
            if used <= self.config.cache_limit_bytes:
                break
            if t.readers or t.key in self._adding:
                continue
            used -= t.snap.total_done if t.snap else 0
            await self.remove(t.key, delete_files=True)
            evicted.append(t.key)
        return evicted

    # -- periodic work --------------------------------------------------------------
    async def _every(self, seconds: float, fn: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await fn()
            except Exception:
                log.exception("periodic engine task failed")

    async def _post_updates(self) -> None:
        self.session.post_torrent_updates(0)
        self._utp_fallback()
        self._rescue_starved()

    def _rescue_starved(self) -> None:
        """A reader stuck on a piece: dial the torrent's known peers again and re-push its deadlines.

        libtorrent forgets a peer after a few failed connects (`max_failcount`) and a seed that closed
        a finished torrent's connection is not always re-dialled; a stream must not hang on either.
        """
        cfg = self.config
        now = time.monotonic()
        for t in self._torrents.values():
            if t.closed or not t.rescue_due(now, cfg.rescue_after_seconds, cfg.rescue_max_seconds):
                continue
            peers = t.snap.peers if t.snap is not None else 0
            log.info("reader starved on %s (peers=%d, rescue %d): re-dialling", t.key, peers, t.rescues)
            if peers == 0:
                t.reconnect(cfg.enable_dht)
            t.deadlines.clear()  # libtorrent may have dropped them (file priorities, a lost peer)
            t.apply_deadlines()

    def _utp_fallback(self) -> None:
        """TCP first; outgoing uTP only while a torrent wanting data has found no peer for a while."""
        cfg = self.config
        if not cfg.enable_utp or cfg.outgoing_utp:
            return
        now = time.monotonic()
        starving = []
        for t in self._torrents.values():
            if t.snap is not None and t.snap.peers > 0:
                t.peered_at = now
            elif (t.readers or not t.info.has_metadata) and now - t.peered_at >= cfg.utp_fallback_seconds:
                starving.append(t)
        if bool(starving) != self._utp_out:
            self._utp_out = bool(starving)
            self.session.apply_settings({"enable_outgoing_utp": self._utp_out})
            for t in starving:
                t.reconnect(cfg.enable_dht)

    async def _save_all(self) -> None:
        for t in self._torrents.values():
            t.handle.save_resume_data(SAVE_FLAGS | lt.save_resume_flags_t.only_if_modified)

    async def _maintain(self) -> None:
        idle = self.config.idle_pause_seconds
        now = time.time()
        for t in self._torrents.values():
            if not t.readers and not t.idle_paused and now - t.last_watched > idle:
                t.idle_paused = True
                t.handle.pause()
        await self.evict_to_limit()


_MP4_SUFFIXES = (".mp4", ".m4v", ".m4a", ".mov")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _make_session(settings: dict[str, Any]) -> lt.session:
    return lt.session(cast(Any, settings))
