"""The streaming window: which pieces a reader needs next and by when, as pure functions.

The piece under the cursor gets deadline 0; later pieces are spaced by playback time.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Container
from dataclasses import dataclass

HEAD_GAP_MS = 250
MIN_SPACING_MS = 20
HEAD_TAIL_DEADLINE_MS = 0


@dataclass(frozen=True, slots=True)
class WindowParams:
    """Knobs of the window; see docs/engine.md for how they were chosen."""

    min_seconds: float = 2.0
    max_seconds: float = 30.0
    max_bytes: int = 64 * 1024 * 1024


def window_seconds(params: WindowParams, bytes_since_seek: int, bitrate: int) -> float:
    """Window length: small right after a seek, growing with each second played."""
    played = bytes_since_seek / max(bitrate, 1)
    return min(params.max_seconds, params.min_seconds + played)


def plan_window(
    cursor_piece: int,
    last_piece: int,
    piece_length: int,
    bitrate: int,
    seconds: float,
    params: WindowParams,
    have: Container[int],
    *,
    pieces_cap: int | None = None,
) -> dict[int, int]:
    """Deadlines (ms from now) for the pieces from the cursor over `seconds` of playback."""
    bitrate = max(bitrate, 1)
    n = math.ceil(bitrate * seconds / piece_length)
    n = max(1, min(n, max(1, params.max_bytes // piece_length)))
    if pieces_cap is not None:
        n = min(n, max(1, pieces_cap))
    spacing = max(piece_length * 1000 / bitrate, MIN_SPACING_MS)
    plan: dict[int, int] = {}
    for k in range(n):
        p = cursor_piece + k
        if p > last_piece:
            break
        if p in have:
            continue
        plan[p] = 0 if k == 0 else int(HEAD_GAP_MS + (k - 1) * spacing)
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
