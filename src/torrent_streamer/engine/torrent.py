"""Per-torrent runtime state of the libtorrent engine: verified pieces, waiters, deadlines.

Lives on the event loop; fed by alert events; merges every reader's window into libtorrent.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

import libtorrent as lt

from .alerts import Snap
from .errors import ReaderClosed, ReadTimeout, StorageError
from .types import TorrentInfo
from .window import merge_plans

if TYPE_CHECKING:
    from .reader import LtFileReader

REDEADLINE_SLACK = 0.05
PEER_LOG_LENGTH = 64
WATCHED_PRIORITY = 1


class TorrentState:
    """Everything the engine tracks about one torrent while it is in the session."""

    def __init__(self, key: str, handle: lt.torrent_handle, info: TorrentInfo) -> None:
        self.key = key
        self.handle = handle
        self.info = info
        self.ti: lt.torrent_info | None = None
        self.metadata = asyncio.Event()
        if info.has_metadata:
            self.metadata.set()
        self.have: set[int] = set()
        self.readers: set[LtFileReader] = set()
        self.deadlines: dict[int, float] = {}
        self.wanted_files: set[int] = set()
        self.info_written: asyncio.Future[None] | None = None  # the info-dict cache write, if any
        self.file_priorities: list[int] | None = None  # as last given to libtorrent (None: unknown)
        self.known_peers: set[tuple[str, int]] = set()
        self.moov: dict[int, tuple[int, int]] = {}
        self.bitrate: dict[int, int] = {}
        self.snap: Snap | None = None
        self.error: str | None = None
        self.last_watched = time.time()
        self.idle_paused = False
        self.closed = False
        self._piece_waiters: dict[int, list[asyncio.Future[None]]] = {}
        self._read_waiters: dict[int, list[asyncio.Future[bytes]]] = {}
        self._waiting_since: dict[int, float] = {}  # piece -> when a reader began waiting for it
        self.rescued_at = 0.0  # last time a starved reader made us re-dial (see `rescue_due`)
        self.rescues = 0  # rescues of the current stall (reset once nothing waits)
        self.resume_waiters: list[asyncio.Future[bool]] = []
        # Recent peer connects/disconnects ("peer_connect", "ip:port TCP"), for diagnosis and tests.
        self.peered_at = time.monotonic()  # last time it had a peer (or was added)
        self.peer_log: deque[tuple[str, str]] = deque(maxlen=PEER_LOG_LENGTH)
        # Done once libtorrent has finished every write queued before a flush (`request_disk_proof`).
        self._disk_proof: asyncio.Future[None] | None = None

    # -- alert events -------------------------------------------------------------
    def on_piece(self, piece: int) -> None:
        self.have.add(piece)
        self.deadlines.pop(piece, None)
        self._waiting_since.pop(piece, None)
        for fut in self._piece_waiters.pop(piece, []):
            if not fut.done():
                fut.set_result(None)

    def on_read(self, piece: int, data: bytes | None, message: str | None) -> None:
        for fut in self._read_waiters.pop(piece, []):
            if fut.done():
                continue
            if data is None:
                fut.set_exception(StorageError("reading a piece failed"))
            else:
                fut.set_result(data)

    def on_resume_done(self, ok: bool) -> None:
        waiters, self.resume_waiters = self.resume_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(ok)

    def fail_all(self, exc: Exception) -> None:
        """Torrent removed or failed: wake every waiter with `exc`."""
        self.closed = True
        for table in (self._piece_waiters, self._read_waiters):
            for futs in table.values():
                for fut in futs:
                    if not fut.done():
                        fut.set_exception(exc)
            table.clear()
        self._waiting_since.clear()
        self.on_resume_done(False)

    # -- pieces -------------------------------------------------------------------
    async def wait_piece(self, piece: int, timeout: float) -> float:
        """Wait until `piece` is verified; returns the seconds spent waiting."""
        if piece in self.have:
            return 0.0
        if self.closed:
            raise ReaderClosed("torrent was removed")
        started = time.monotonic()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._piece_waiters.setdefault(piece, []).append(fut)
        self._waiting_since.setdefault(piece, started)
        # Pieces verified before we started listening (resume data, recheck).
        if await asyncio.to_thread(self.handle.have_piece, piece):
            self.on_piece(piece)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError as exc:
            raise ReadTimeout("the data did not arrive in time") from exc
        finally:
            waiters = self._piece_waiters.get(piece)
            if waiters and fut in waiters and not fut.done():
                waiters.remove(fut)
                fut.cancel()
            if not self._piece_waiters.get(piece):
                self._piece_waiters.pop(piece, None)
                self._waiting_since.pop(piece, None)
        return time.monotonic() - started

    def rescue_due(self, now: float, after: float, cap: float) -> bool:
        """True when a reader has waited `after` seconds (doubling per rescue, up to `cap`) for a piece.

        Counts the rescue when it answers True; a torrent nobody waits on starts over.
        """
        if not self._waiting_since:
            self.rescues = 0
            return False
        backoff = min(after * (2**self.rescues), cap)
        if now - min(self._waiting_since.values()) < after or now - self.rescued_at < backoff:
            return False
        self.rescued_at = now
        self.rescues += 1
        return True

    async def read_piece(self, piece: int, timeout: float) -> bytes:
        """Read a verified piece through libtorrent (sees its store buffer, not the file)."""
        if self.closed:
            raise ReaderClosed("torrent was removed")
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        waiters = self._read_waiters.setdefault(piece, [])
        waiters.append(fut)
        if len(waiters) == 1:
            self.handle.read_piece(piece)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError as exc:
            self._read_waiters.pop(piece, None)
            raise ReadTimeout("reading a piece timed out") from exc

    # -- bytes on disk -------------------------------------------------------------
    def disk_proven(self) -> bool:
        """True once every write libtorrent had queued when `request_disk_proof` was first called is
        done: until then a verified piece may still sit in libtorrent's store buffer, not the file.
        """
        return self._disk_proof is not None and self._disk_proof.done() and not self._disk_proof.cancelled()

    def request_disk_proof(self) -> None:
        """Ask once (again after a move): ``flush_cache`` queues a fence job behind every pending
        write of the torrent; its ``cache_flushed_alert`` is the proof (``on_flushed``)."""
        if self._disk_proof is None and not self.closed:
            self._disk_proof = asyncio.get_running_loop().create_future()
            self.handle.flush_cache()

    def on_flushed(self) -> None:
        if self._disk_proof is not None and not self._disk_proof.done():
            self._disk_proof.set_result(None)

    def forget_disk_proof(self) -> None:
        """The files moved or are checked again: prove it again before reading them directly."""
        if self._disk_proof is not None and not self._disk_proof.done():
            self._disk_proof.cancel()
        self._disk_proof = None

    def file_path(self, index: int) -> str:
        """Where libtorrent keeps file ``index`` now (blocking: libtorrent's status call)."""
        if self.ti is None:
            raise StorageError("no metadata")
        return os.path.join(self.handle.status().save_path, self.ti.layout().file_path(index))

    # -- deadlines ----------------------------------------------------------------
    def apply_deadlines(self, extra: Iterable[dict[int, int]] = ()) -> None:
        """Merge all readers' windows and push only the differences to libtorrent."""
        if self.closed or self.ti is None:
            return
        plans = [r.plan for r in self.readers if r.plan]
        plans.extend(extra)
        desired = merge_plans(plans)
        now = time.monotonic()
        h = self.handle
        for piece in [p for p in self.deadlines if p not in desired]:
            del self.deadlines[piece]
            if piece not in self.have:
                h.reset_piece_deadline(piece)
        for piece in sorted(desired, key=desired.__getitem__):
            if piece in self.have:
                self.deadlines.pop(piece, None)
                continue
            ms = desired[piece]
            target = now + ms / 1000
            cur = self.deadlines.get(piece)
            if cur is None or target < cur - REDEADLINE_SLACK:
                h.set_piece_deadline(piece, ms)
                self.deadlines[piece] = target

    def want_file(self, index: int) -> bool:
        """Download `index` (and other watched files); others stay at 0. True if priorities changed."""
        if self.ti is None or index in self.wanted_files:
            return False
        self.wanted_files.add(index)
        return self.push_priorities()

    def reconnect(self, dht: bool) -> None:
        """A finished torrent dropped its seeds; wanting a new file must bring them back."""
        h = self.handle
        for ep in self.known_peers:
            h.connect_peer(ep)
        h.force_reannounce()
        if dht:
            h.force_dht_announce()

    def push_priorities(self, base: list[int] | None = None) -> bool:
        """Watched files at 1, others at 0 (or `base` while nothing is watched); True if changed.

        1, not 4: the window's deadline pieces (time-critical, priority 7) stay well above the rest
        of the file, and opening the preloaded main file (already 1) changes nothing — new file
        priorities reset every piece's deadline in libtorrent, a disk-thread round trip away.
        """
        if self.ti is None:
            return False
        n = self.ti.num_files()
        prios = [WATCHED_PRIORITY if i in self.wanted_files else 0 for i in range(n)]
        if base is not None and not self.wanted_files:
            prios = base
        if prios == self.file_priorities:
            return False
        self.file_priorities = prios
        self.handle.prioritize_files(prios)
        return True

    def contiguous_have(self, first_piece: int, last_piece: int) -> int:
        """Number of verified pieces in a row starting at `first_piece`."""
        n = 0
        p = first_piece
        while p <= last_piece and p in self.have:
            n += 1
            p += 1
        return n
