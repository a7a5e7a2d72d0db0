"""Locates an MP4's `moov` box by walking top-level box headers through a reader.

The engine then gives exactly those pieces deadline 0 and learns the bitrate from `mvhd`.
"""

from __future__ import annotations

from typing import Protocol

from .media import MAX_TOP_LEVEL_BOXES, parse_box_header
from .window import mvhd_duration


class _Reads(Protocol):
    @property
    def size(self) -> int: ...

    async def read(self, offset: int, max_bytes: int) -> bytes: ...


async def read_exact(r: _Reads, offset: int, n: int) -> bytes:
    """Up to `n` bytes at `offset` (fewer only at end of file), across pieces."""
    buf = b""
    while len(buf) < n and offset + len(buf) < r.size:
        buf += await r.read(offset + len(buf), n - len(buf))
    return buf


async def locate_moov(r: _Reads) -> tuple[int, int, float | None] | None:
    """(start, end, duration seconds or None) of the top-level `moov` box, or None."""
    offset = 0
    for _ in range(MAX_TOP_LEVEL_BOXES):
        if offset + 8 > r.size:
            return None
        box = parse_box_header(await read_exact(r, offset, 16), offset, r.size)
        if box is None or (offset == 0 and box.kind != "ftyp"):
            return None
        if box.kind == "moov":
            child = await read_exact(r, box.start + 8, 44)
            return box.start, box.end, mvhd_duration(child)
        offset = box.end
    return None
