"""Finished HLS segments on disk, per info-hash / file / variant / index, shared by every user.

A segment is written to a temporary file by ffmpeg, split into the shared init (``ftyp``+``moov``)
and its media part (``moof``+``mdat``), and renamed into place; a torrent's folder goes with it.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

SegmentKey = tuple[str, int, str]  # info-hash, file index, variant


class SegmentFormatError(ValueError):
    """ffmpeg's output was not a fragmented MP4."""


def split_fragmented(data: bytes) -> tuple[bytes, bytes]:
    """(init, media) of a fragmented MP4: boxes before the first ``moof``, then ``moof``/``mdat`` pairs."""
    offset, init_end, media = 0, None, bytearray()
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        if size < 8 or offset + size > len(data):
            raise SegmentFormatError("truncated box")
        if kind == b"moof" and init_end is None:
            init_end = offset
        if init_end is not None and kind in (b"moof", b"mdat", b"styp", b"sidx"):
            media += data[offset : offset + size]
        offset += size
    if init_end is None:
        raise SegmentFormatError("no moof box")
    return data[:init_end], bytes(media)


class SegmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, key: SegmentKey) -> Path:
        info_hash, index, variant = key
        return self.root / info_hash / str(index) / variant

    def segment_path(self, key: SegmentKey, index: int) -> Path:
        return self.folder(key) / f"{index}.m4s"

    def init_path(self, key: SegmentKey) -> Path:
        return self.folder(key) / "init.mp4"

    def has(self, key: SegmentKey, index: int) -> bool:
        return self.segment_path(key, index).is_file()

    def scratch(self, key: SegmentKey, index: int) -> Path:
        folder = self.folder(key)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".{index}.{os.getpid()}.tmp.mp4"

    def store(self, key: SegmentKey, index: int, produced: Path) -> None:
        """Split ffmpeg's output into init and media, and move both into place atomically."""
        try:
            init, media = split_fragmented(produced.read_bytes())
        finally:
            produced.unlink(missing_ok=True)
        if not self.init_path(key).is_file():
            _atomic_write(self.init_path(key), init)
        _atomic_write(self.segment_path(key, index), media)

    def store_init(self, key: SegmentKey, data: bytes) -> None:
        """Keep only the init part of a short run's output (when no segment has supplied one yet)."""
        init, _ = split_fragmented(data)
        self.folder(key).mkdir(parents=True, exist_ok=True)
        if not self.init_path(key).is_file():
            _atomic_write(self.init_path(key), init)

    def info_hashes(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if p.is_dir()]

    def remove_torrent(self, info_hash: str) -> None:
        if len(info_hash) < 40 or "/" in info_hash or info_hash.startswith("."):
            raise ValueError("not an info-hash")
        shutil.rmtree(self.root / info_hash, ignore_errors=True)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
