"""The streaming window: which pieces a reader needs next and by when, as pure functions.

The piece under the cursor gets deadline 0; later pieces are spaced by playback time.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Container
from dataclasses import dataclass

MIN_SPACING_MS = 20
BODY_READ_BYTES = 64 * 1024  # a first read this large is a body (a player's probe asks for bytes)
HEAD_TAIL_DEADLINE_MS = 0


@dataclass(frozen=True, slots=True)
class WindowParams:
    """Knobs of the window; see docs/engine.md for how they were chosen."""

    min_pieces: int = 2  # right after an open or a seek: a probe asks for no more
    start_bytes: int = 4 * 1024 * 1024  # ...unless its first read asks for a body's worth
    seconds: float = 4.0  # of the consumer's own read rate ahead of the cursor
    max_bytes: int = 16 * 1024 * 1024


class ByteRateWindow:
    """One reader's urgent window, sized by how fast its consumer actually reads.

    After an open or a seek it holds `min_pieces`; every piece the consumer moves on to
    sequentially doubles the limit (it keeps up), up to `seconds` of its measured read rate
    (never below the playback `floor` rate) and `max_bytes`. A seek starts it small again.
    """

    def __init__(self, params: WindowParams, floor_rate: int) -> None:
        self.params = params
        self.floor_rate = max(1, floor_rate)
        self.limit = params.min_pieces
        self.sequential_bytes = 0
        self.busy_seconds = 0.0  # consumer time between reads, our waits excluded

    def seek(self, first_read: int = 0, piece_length: int = 1) -> None:
        """Start over: `min_pieces`, or `start_bytes` when the first read asks for a body's worth."""
        p = self.params
        start = p.start_bytes // piece_length if first_read >= BODY_READ_BYTES else 0
        self.limit = max(p.min_pieces, start)
        self.sequential_bytes = 0
        self.busy_seconds = 0.0

    def advance(self, nbytes: int, consumer_seconds: float, new_piece: bool) -> None:
        """The consumer read on sequentially: `nbytes` more, `consumer_seconds` of its own time."""
        self.sequential_bytes += nbytes
        self.busy_seconds += max(consumer_seconds, 0.0)
        if new_piece:
            self.limit = min(self.limit * 2, 1 << 20)

    def rate(self) -> float:
        """Bytes/s the consumer reads at (a consumer faster than we measure is unbounded)."""
        if self.busy_seconds <= 0:
            return float("inf") if self.sequential_bytes else float(self.floor_rate)
        return max(self.sequential_bytes / self.busy_seconds, float(self.floor_rate))

    def pieces(self, piece_length: int) -> int:
        p = self.params
        cap = max(p.min_pieces, p.max_bytes // piece_length)
        rate = self.rate()
        want = cap if math.isinf(rate) else math.ceil(rate * p.seconds / piece_length)
        return max(p.min_pieces, min(self.limit, want, cap))

    def plan(self, cursor_piece: int, last_piece: int, piece_length: int, have: Container[int]) -> dict[int, int]:
        """Deadlines (ms from now) growing with distance: when the consumer will need each piece."""
        rate = self.rate()
        spacing = MIN_SPACING_MS if math.isinf(rate) else max(MIN_SPACING_MS, piece_length * 1000 / rate)
        plan: dict[int, int] = {}
        for k in range(self.pieces(piece_length)):
            p = cursor_piece + k
            if p > last_piece:
                break
            if p not in have:
                plan[p] = int(k * spacing)
        return plan


def merge_plans(plans: list[dict[int, int]]) -> dict[int, int]:
    """Union of several readers' plans; a piece keeps its earliest deadline."""
    out: dict[int, int] = {}
    for plan in plans:
        for piece, ms in plan.items():
            cur = out.get(piece)
            if cur is None or ms < cur:
                out[piece] = ms
    return out


def pieces_of_range(start: int, end: int, file_offset: int, piece_length: int) -> range:
    """Pieces covering file bytes [start, end)."""
    first = (file_offset + start) // piece_length
    last = (file_offset + max(end, start + 1) - 1) // piece_length
    return range(first, last + 1)


def mvhd_duration(data: bytes) -> float | None:
    """Duration in seconds from an `mvhd` box (bytes starting at its header), if sane."""
    if len(data) < 32 or data[4:8] != b"mvhd":
        return None
    version = data[8]
    if version == 1:
        if len(data) < 44:
            return None
        timescale, duration = struct.unpack(">IQ", data[28:40])
    else:
        timescale, duration = struct.unpack(">II", data[20:28])
    if timescale == 0 or duration == 0:
        return None
    seconds = duration / timescale
    return seconds if 1.0 <= seconds <= 7 * 24 * 3600 else None
