"""A streaming reader over one file of a libtorrent torrent, with its own deadline window.

Serves only hash-verified bytes, read through libtorrent; holds at most a few pieces.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Self

from .config import EngineConfig
from .errors import ReaderClosed, ReadOutOfRange
from .torrent import TorrentState
from .types import EngineObserver, FileInfo, ReaderStatus
from .window import HEAD_TAIL_DEADLINE_MS, WindowParams, plan_window, window_seconds


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
        self._params = WindowParams(cfg.window_min_seconds, cfg.window_max_seconds, cfg.window_max_bytes)
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._closed = False
        self._opened_at = time.monotonic()
        self._reads = 0
        self._last_end: int | None = None
        self._bytes_since_seek = 0
        self._seek_at: float | None = None
        self.position = 0
        self.plan: dict[int, int] = {}
        self.owner: str | None = None
        self.last_piece_read = -1
        self._capped = True

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

    def _move(self, offset: int, piece: int) -> bool:
        """Update the cursor and window; returns True when this read is a seek."""
        plen = self._t.info.piece_length
        sequential = self._last_end is not None and (self._last_end - plen <= offset <= self._last_end + 2 * plen)
        seek = self._reads > 0 and not sequential
        if sequential and self._last_end is not None:
            self._bytes_since_seek += max(0, offset - self._last_end) + 1
        else:
            self._bytes_since_seek = 0
        self.position = offset
        capped = self._bytes_since_seek == 0
        if piece == self.last_piece_read and not seek and self.plan and capped == self._capped:
            return seek
        self._capped = capped
        self.last_piece_read = piece
        # A first read (a probe, or the start after a seek) asks for its piece only;
        # the window opens once reading proves sequential.
        cap = 2 if capped else None
        secs = window_seconds(self._params, self._bytes_since_seek, self._bitrate())
        plan = plan_window(
            piece,
            self._file.last_piece,
            plen,
            self._bitrate(),
            secs,
            self._params,
            self._t.have,
            pieces_cap=cap,
        )
        plan.update({p: ms for p, ms in self._pinned().items() if p not in plan})
        self.plan = plan
        self._t.apply_deadlines()
        return seek

    # -- reading ------------------------------------------------------------------
    async def read(self, offset: int, max_bytes: int) -> bytes:
        """Return 1..max_bytes verified bytes at `offset`, never crossing a piece end."""
        if self._closed or self._t.closed:
            raise ReaderClosed("reader is closed")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if offset < 0 or offset >= self._file.size:
            raise ReadOutOfRange("read beyond the end of the file")
        plen = self._t.info.piece_length
        absolute = self._file.offset + offset
        piece = absolute // plen
        in_piece = absolute - piece * plen
        piece_size = min(plen, self._t.info.total_size - piece * plen)
        n = min(max_bytes, piece_size - in_piece, self._file.size - offset)
        started = time.monotonic()
        if self._move(offset, piece):
            self._seek_at = started
        self._t.last_watched = time.time()
        data = self._cache.get(piece)
        waited = 0.0
        if data is None:
            waited = await self._t.wait_piece(piece, self._cfg.read_timeout)
            if self._closed:
                raise ReaderClosed("reader is closed")
            data = await self._t.read_piece(piece, self._cfg.read_timeout)
            self._cache[piece] = data
            while len(self._cache) > self._cfg.reader_cache_pieces:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(piece)
        if self._closed:
            raise ReaderClosed("reader is closed")
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
        self.position = offset + n
        return data[in_piece : in_piece + n]

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
