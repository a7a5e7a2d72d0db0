"""On-disk state of the engine: resume data and cached info dicts under `state_dir`, and each
torrent's own data directory `download_dir/<info-hash>` (v1 hex, or v2 hex for v2-only torrents).

Files are named by info-hash only and written atomically (tmp, fsync, rename).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

_KEY = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError("invalid info-hash key")
    return key


def data_dir(download_dir: Path, storage_key: str) -> Path:
    """The directory that holds one torrent's files and nothing else (issue 12, item 1)."""
    return download_dir / _check_key(storage_key)


def delete_data_dir(download_dir: Path, storage_key: str) -> None:
    """Delete one torrent's data directory (after libtorrent removed its files): never a shared path."""
    shutil.rmtree(data_dir(download_dir, storage_key), ignore_errors=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class StateStore:
    """Resume files (`resume/<hash>.fastresume`) and info dicts (`info/<hash>.torrent`)."""

    def __init__(self, root: Path) -> None:
        self.resume_dir = root / "resume"
        self.info_dir = root / "info"

    def ensure(self) -> None:
        self.resume_dir.mkdir(parents=True, exist_ok=True)
        self.info_dir.mkdir(parents=True, exist_ok=True)

    def resume_path(self, key: str) -> Path:
        return self.resume_dir / f"{_check_key(key)}.fastresume"

    def info_path(self, key: str) -> Path:
        return self.info_dir / f"{_check_key(key)}.torrent"

    def save_resume(self, key: str, data: bytes) -> None:
        atomic_write(self.resume_path(key), data)

    def delete_resume(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.resume_path(key).unlink()

    def load_all_resume(self, max_bytes: int) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for p in sorted(self.resume_dir.glob("*.fastresume")):
            key = p.name.removesuffix(".fastresume")
            if _KEY.match(key) and p.stat().st_size <= max_bytes:
                out.append((key, p.read_bytes()))
        return out

    def save_info(self, key: str, data: bytes) -> None:
        atomic_write(self.info_path(key), data)

    def load_info(self, key: str, max_bytes: int) -> bytes | None:
        p = self.info_path(key)
        try:
            if p.stat().st_size > max_bytes:
                return None
            return p.read_bytes()
        except FileNotFoundError:
            return None
