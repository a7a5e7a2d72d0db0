"""A streaming reader over one file of a libtorrent torrent, with its own deadline window.

Serves only hash-verified bytes, read through libtorrent; holds at most a few pieces.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Self

from .config import EngineConfig
from .errors import ReaderClosed, ReadOutOfRange, StorageError
from .torrent import TorrentState
from .types import EngineObserver, FileInfo, ReaderStatus
from .window import HEAD_TAIL_DEADLINE_MS, ByteRateWindow, WindowParams


def _notify(observer: EngineObserver | None, event: str, seconds: float) -> None:
    if observer is None:
        return
    try:
        getattr(observer, event)(seconds)
    except Exception:
        logging.getLogger(__name__).exception("engine observer failed")


class LtFileReader:
    """`FileReader` for the libtorrent engine; create it with `Engine.open_reader`."""

    def __init__(
        self,
        t: TorrentState,
        file: FileInfo,
        cfg: EngineConfig,
        observer: EngineObserver | None,
        on_close: Callable[[LtFileReader], None],
        *,
        internal: bool = False,
    ) -> None:
        self.internal = internal
        self._t = t
        self._file = file
        self._cfg = cfg
        self._observer = observer
        self._on_close = on_close
        self._pin = not internal and file.streamable
        params = WindowParams(cfg.window_min_pieces, cfg.window_start_bytes, cfg.window_seconds, cfg.window_max_bytes)
        self._window = ByteRateWindow(params, cfg.assumed_bitrate)
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._prefetching: dict[int, asyncio.Future[bytes]] = {}
        plen = t.info.piece_length or 1
        # The cursor piece, the pieces one read coalesces (`read_span_bytes`) and the read-ahead.
        self._cache_pieces = max(cfg.reader_cache_pieces, 2 + (cfg.readahead_bytes + cfg.read_span_bytes) // plen)
        self._closed = False
        self._opened_at = time.monotonic()
        self._reads = 0
        self._last_end: int | None = None
        self._last_n = 0
        self._last_return = 0.0
        self._seek_at: float | None = None
        self.position = 0
        self.plan: dict[int, int] = {}
        self.owner: str | None = None
        self.last_piece_read = -1
        # The file's own bytes, opened once every piece is verified and proven written (`_from_disk`).
        self._fd: int | None = None
        self._unseen = file.first_piece  # first piece of the file not yet seen verified (`have` only grows)
        self._disk_decided = False  # the file was opened, or could not be: no second attempt
        self.disk_reads = 0

    @property
    def size(self) -> int:
        return self._file.size

    @property
    def file_info(self) -> FileInfo:
        return self._file

    @property
    def torrent(self) -> TorrentState:
        return self._t

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release this reader's deadlines (pieces other readers need keep theirs)."""
        if self._closed:
            return
        self._closed = True
        self.plan = {}
        self._cache.clear()
        self._drop_disk()
        for task in self._prefetching.values():
            task.cancel()
        self._prefetching.clear()
        self._on_close(self)

    # -- window -------------------------------------------------------------------
    def _bitrate(self) -> int:
        return self._t.bitrate.get(self._file.index, self._cfg.assumed_bitrate)

    def _pinned(self) -> dict[int, int]:
        if not self._pin:
            return {}
        f = self._file
        pins = {
            f.first_piece: HEAD_TAIL_DEADLINE_MS,
            f.last_piece: HEAD_TAIL_DEADLINE_MS,
        }
        moov = self._t.moov.get(f.index)
        if moov is not None:
            plen = self._t.info.piece_length
            for p in range((f.offset + moov[0]) // plen, (f.offset + moov[1] - 1) // plen + 1):
                pins[p] = HEAD_TAIL_DEADLINE_MS
        return {p: ms for p, ms in pins.items() if p not in self._t.have}

    @property
    def window_pieces(self) -> int:
        """Length of this reader's urgent window, in pieces (verified pieces included)."""
        return self._window.pieces(self._t.info.piece_length)

    def _move(self, offset: int, piece: int, now: float, max_bytes: int) -> bool:
        """Update the cursor and window; returns True when this read is a seek."""
        plen = self._t.info.piece_length
        sequential = self._last_end is not None and (self._last_end - plen <= offset <= self._last_end + 2 * plen)
        seek = self._reads > 0 and not sequential
        self._window.floor_rate = max(1, self._bitrate())
        if sequential:
            self._window.advance(self._last_n, now - self._last_return, piece != self.last_piece_read)
        else:
            # A first read (a probe, or the start after a seek) asks for `window_min_pieces`;
            # the window widens only while reading proves sequential.
            self._window.seek(max_bytes, plen)
        self.position = offset
        if piece == self.last_piece_read and not seek and self.plan:
            return seek
        self.last_piece_read = piece
        plan = self._window.plan(piece, self._file.last_piece, plen, self._t.have)
        plan.update({p: ms for p, ms in self._pinned().items() if p not in plan})
        self.plan = plan
        self._t.apply_deadlines()
        return seek

    # -- reading ------------------------------------------------------------------
    def _check(self, offset: int, max_bytes: int) -> None:
        if self._closed or self._t.closed:
            raise ReaderClosed("reader is closed")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if offset < 0 or offset >= self._file.size:
            raise ReadOutOfRange("read beyond the end of the file")

    async def disk_span(self, offset: int, max_bytes: int) -> tuple[int, int] | None:
        """``(fd, n)`` once the file is proven on disk (see `_from_disk`): the caller sends those
        bytes itself (``sendfile``) and they count as read; None until then (use `read`)."""
        self._check(offset, max_bytes)
        self._t.last_watched = time.time()
        fd = await self._from_disk()
        if fd is None or self._closed:
            return None
        n = min(max_bytes, self._file.size - offset)
        self._done(offset, n, 0.0)
        return fd, n

    async def read(self, offset: int, max_bytes: int) -> bytes:
        """Return 1..max_bytes verified bytes at `offset` (following pieces only if verified)."""
        self._check(offset, max_bytes)
        plen = self._t.info.piece_length
        absolute = self._file.offset + offset
        piece = absolute // plen
        in_piece = absolute - piece * plen
        piece_size = min(plen, self._t.info.total_size - piece * plen)
        n = min(max_bytes, piece_size - in_piece, self._file.size - offset)
        started = time.monotonic()
        self._t.last_watched = time.time()
        fd = await self._from_disk()
        if fd is not None:
            data = await asyncio.to_thread(os.pread, fd, min(max_bytes, self._file.size - offset), offset)
            if self._closed:
                raise ReaderClosed("reader is closed")
            if data:
                self.disk_reads += 1
                self._done(offset, len(data), 0.0)
                return data
            self._drop_disk()  # shorter than libtorrent says: never again, read through libtorrent
        if self._move(offset, piece, started, max_bytes):
            self._seek_at = started
        waited = 0.0
        if piece not in self._cache and piece not in self._prefetching:
            waited = await self._t.wait_piece(piece, self._cfg.read_timeout)
            if self._closed:
                raise ReaderClosed("reader is closed")
        # Every verified piece this read will coalesce is asked of libtorrent now, all at once
        # (`read_piece` jobs run in parallel): awaited one by one they cost a round trip each.
        span_end = self._file.offset + min(offset + max_bytes, self._file.size) - 1
        self._read_ahead(piece + 1, span_end // plen)
        data = await self._fetch(piece)
        parts = [memoryview(data)[in_piece : in_piece + n]]
        # Coalesce: verified pieces that follow join this read (one copy), up to max_bytes.
        nxt = piece + 1
        while n < max_bytes and offset + n < self._file.size and nxt in self._t.have and not self._closed:
            chunk = memoryview(await self._fetch(nxt))[: min(max_bytes - n, self._file.size - offset - n)]
            parts.append(chunk)
            n += len(chunk)
            nxt += 1
        self._read_ahead(nxt)
        if self._closed:
            raise ReaderClosed("reader is closed")
        self._done(offset, n, waited)
        if len(parts) == 1 and n == len(data):
            return data  # a whole piece: no copy at all
        return b"".join(parts)  # the one copy of these bytes made in Python

    def _done(self, offset: int, n: int, waited: float) -> None:
        """Bookkeeping of a read that returns `n` bytes at `offset`: observers, cursor."""
        now = time.monotonic()
        if self._reads == 0:
            _notify(self._observer, "on_first_byte", now - self._opened_at)
        elif self._seek_at is not None:
            _notify(self._observer, "on_seek", now - self._seek_at)
        elif waited >= self._cfg.stall_threshold_seconds:
            _notify(self._observer, "on_stall", waited)
        self._seek_at = None
        self._reads += 1
        self._last_end = offset + n
        self._last_n = n
        self._last_return = now
        self.position = offset + n

    async def _from_disk(self) -> int | None:
        """The file's descriptor once the whole file is verified and libtorrent has written it all.

        Then reads are one `pread` of up to `max_bytes` (no piece round trip through libtorrent, one
        copy); until then, and whenever the file cannot be opened as expected, reads go through
        `read_piece`. The proof is asked for in the background: no read waits for it.
        """
        if self._fd is not None or self._disk_decided:
            return self._fd
        t, f = self._t, self._file
        have = t.have
        if len(have) >= t.info.num_pieces > 0:  # the whole torrent: no scan (a new reader per request)
            self._unseen = f.last_piece + 1
        while self._unseen <= f.last_piece and self._unseen in have:  # amortised: each piece once
            self._unseen += 1
        if self._unseen <= f.last_piece:
            return None
        if not t.disk_proven():
            t.request_disk_proof()
            return None
        self._disk_decided = True
        try:
            path = await asyncio.to_thread(t.file_path, f.index)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except (OSError, RuntimeError, StorageError) as exc:
            logging.getLogger(__name__).warning("reading %s from disk: %s", f.name, exc)
            return None
        if os.fstat(fd).st_size != f.size or self._closed or f.size == 0:
            os.close(fd)
            return None
        self._fd = fd
        self.plan = {}  # every piece is here: nothing left to ask for
        t.apply_deadlines()
        return fd

    def _drop_disk(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._disk_decided = True

    async def _fetch(self, piece: int) -> bytes:
        """A verified piece's bytes: from this reader's cache, its read-ahead, or libtorrent."""
        data = self._cache.get(piece)
        if data is not None:
            self._cache.move_to_end(piece)
            return data
        task = self._prefetching.get(piece)
        data = await task if task is not None else await self._t.read_piece(piece, self._cfg.read_timeout)
        self._remember(piece, data)
        return data

    def _remember(self, piece: int, data: bytes) -> None:
        if self._closed:
            return
        self._cache[piece] = data
        self._cache.move_to_end(piece)
        while len(self._cache) > self._cache_pieces:
            self._cache.popitem(last=False)

    def _read_ahead(self, first: int, last: int | None = None) -> None:
        """Start reading the verified pieces `first..last` (default: `readahead_bytes` of them, while
        the caller sends this chunk); never more than the cache holds beside the cursor piece."""
        plen = self._t.info.piece_length
        count = max(1, self._cfg.readahead_bytes // plen) if last is None else last - first + 1
        count = min(count, self._cache_pieces - 1)
        for p in range(first, min(first + count, self._file.last_piece + 1)):
            if p not in self._t.have or p in self._cache or p in self._prefetching:
                continue
            task = asyncio.ensure_future(self._t.read_piece(p, self._cfg.read_timeout))
            self._prefetching[p] = task
            task.add_done_callback(functools.partial(self._prefetched, p))

    def _prefetched(self, piece: int, task: asyncio.Future[bytes]) -> None:
        self._prefetching.pop(piece, None)
        if not task.cancelled() and task.exception() is None:
            self._remember(piece, task.result())

    def status(self, download_rate: int) -> ReaderStatus:
        """Where the reader is and how much verified data lies ahead of it."""
        plen = self._t.info.piece_length
        f = self._file
        absolute = f.offset + min(self.position, max(f.size - 1, 0))
        piece = absolute // plen
        run = self._t.contiguous_have(piece, f.last_piece)
        ahead = 0 if run == 0 else min(f.offset + f.size, (piece + run) * plen) - absolute
        need = min(int(self._bitrate() * self._cfg.window_min_seconds), f.size - self.position)
        missing = max(0, need - ahead)
        eta = 0.0 if missing == 0 else (missing / download_rate if download_rate > 0 else -1.0)
        return ReaderStatus(f.index, self.position, max(0, ahead), eta, self.owner)
