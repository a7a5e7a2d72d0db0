"""Alert-event handling of the libtorrent engine, on the event loop (a mixin).

Routes plain events from the alert thread to torrents: pieces, reads, metadata, resume.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import libtorrent as lt

from .alerts import IH, Event, Snap
from .config import EngineConfig
from .errors import InvalidTorrent, user_error
from .status import initial_priorities
from .store import StateStore, data_dir, delete_data_dir
from .torrent import TorrentState
from .torrentfile import check_metadata, storage_key_of, torrent_bytes, torrent_info_of
from .types import MetadataListener

log = logging.getLogger(__name__)
SAVE_FLAGS = lt.save_resume_flags_t.save_info_dict


class EngineEvents:
    """Event routing shared state; `LibtorrentEngine` provides the attributes."""

    config: EngineConfig
    _store: StateStore
    _torrents: dict[str, TorrentState]
    _aliases: dict[str, str]
    _removing: dict[str, tuple[asyncio.Future[None], str]]
    _removed: set[str]
    _tasks: set[asyncio.Task[Any]]
    _status_changed: asyncio.Event
    _adding: dict[str, asyncio.Future[TorrentState]]
    _early_peers: dict[str, list[tuple[str, str]]]
    _metadata_listeners: list[MetadataListener]

    async def remove(self, info_hash: str, delete_files: bool = True) -> None:
        raise NotImplementedError

    # -- alert events (on the loop) -------------------------------------------------
    def _lookup(self, ih: IH) -> TorrentState | None:
        for k in ih:
            if k is not None and k in self._torrents:
                return self._torrents[k]
        return None

    def _write_resume(self, ih: IH, buf: bytes) -> None:
        """Runs in the alert thread: write resume data unless the torrent was removed."""
        for k in ih:
            if k is not None and k in self._torrents and k not in self._removed:
                self._store.save_resume(k, buf)
                return

    def _dispatch(self, events: list[Event], snaps: list[Snap]) -> None:
        for s in snaps:
            t = self._lookup(s.ih)
            if t is not None:
                t.snap = s
        if snaps:
            self._status_changed.set()
            self._status_changed = asyncio.Event()
        for e in events:
            try:
                self._handle_event(e)
            except Exception:
                log.exception("failed to handle engine event %s", e.kind)

    def _handle_event(self, e: Event) -> None:
        if e.kind in ("removed", "deleted"):
            for k in e.ih:
                fut, kind = self._removing.get(k or "", (None, ""))
                if fut is not None and not fut.done() and e.kind == kind:
                    fut.set_result(None)
            return
        t = self._lookup(e.ih)
        if t is None:
            adding = [k for k in e.ih if k is not None and k in self._adding]
            if adding and e.kind.startswith("peer_"):  # a peer of a torrent being registered
                self._early_peers.setdefault(adding[0], []).append((e.kind, e.message or ""))
                return
            log.debug("event %s for an unknown torrent", e.kind)
            return
        if e.kind == "piece":
            t.on_piece(e.piece)
        elif e.kind == "read":
            t.on_read(e.piece, e.data, e.message)
        elif e.kind in ("saved", "save_failed"):
            t.on_resume_done(e.kind == "saved")
        elif e.kind == "metadata":
            self._spawn(self._on_metadata(t))
        elif e.kind == "unfinished":
            t.reconnect(self.config.enable_dht)
        elif e.kind == "finished":
            t.handle.save_resume_data(SAVE_FLAGS)
        elif e.kind == "flushed":
            t.on_flushed()
        elif e.kind == "moved":
            t.forget_disk_proof()
            self._spawn(asyncio.to_thread(self._drop_moved_from, t.key, e.message or ""))
        elif e.kind == "file_prio":
            t.deadlines.clear()
            t.apply_deadlines()
        elif e.kind in ("peer_connect", "peer_disconnect"):
            t.peer_log.append((e.kind, e.message or ""))
        elif e.kind in ("storage_error", "error"):
            t.error = user_error(e.kind, e.message)

    async def _on_metadata(self, t: TorrentState) -> None:
        if t.ti is not None:
            return
        ti = await asyncio.to_thread(t.handle.torrent_file)
        if t.ti is not None:  # the alert and `_add`'s own check both got here
            return
        if ti is None:
            log.warning("metadata alert without metadata")
            return
        try:
            check_metadata(ti, self.config)
        except InvalidTorrent as exc:
            t.error = exc.reason
            t.metadata.set()
            self._spawn(self.remove(t.key, delete_files=True))
            return
        t.ti = ti
        t.info = torrent_info_of(t.key, ti, t.info.name)
        self._adopt_hashes(t, ti)
        t.push_priorities(initial_priorities(t.info.files))
        t.metadata.set()  # before the cache write: a stream waits on this, not on an fsync
        for listener in self._metadata_listeners:  # e.g. the takedown check on every hash (issue 12)
            try:
                listener(t.key, t.info.info_hashes)
            except Exception:
                log.exception("metadata listener failed")
        t.info_written = asyncio.ensure_future(asyncio.to_thread(self._store.save_info, t.key, torrent_bytes(ti)))
        await t.info_written
        if not t.closed:
            t.handle.save_resume_data(SAVE_FLAGS)

    def _adopt_hashes(self, t: TorrentState, ti: lt.torrent_info) -> None:
        """A magnet's metadata may reveal a second hash (hybrid): answer to it, store under v1."""
        self._aliases.update({h: t.key for h in t.info.info_hashes if h != t.key})
        storage = storage_key_of(t.key, ti)
        if storage != t.key:  # a btmh-only magnet of a hybrid torrent: nothing is written yet
            t.handle.move_storage(str(data_dir(self.config.download_dir, storage)))

    def _drop_moved_from(self, key: str, old_path: str) -> None:
        """After a btmh-only magnet moved to its v1 directory, the v2 one it started in goes."""
        first = data_dir(self.config.download_dir, key)
        if old_path and Path(old_path) == first:
            delete_data_dir(self.config.download_dir, key)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("engine background task failed", exc_info=task.exception())
