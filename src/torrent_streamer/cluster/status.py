"""Engine status to and from JSON: what a holder publishes through Redis for the other nodes."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from torrent_streamer.engine import FileInfo, ReaderStatus, TorrentStatus


def encode(status: TorrentStatus) -> bytes:
    return json.dumps(dataclasses.asdict(status), separators=(",", ":")).encode()


def decode(data: bytes | str) -> TorrentStatus | None:
    """The status, or None for anything that is not one (a stale or foreign value)."""
    try:
        raw: dict[str, Any] = json.loads(data)
        files = [FileInfo(**f) for f in raw.pop("files")]
        readers = [ReaderStatus(**r) for r in raw.pop("readers")]
        info_hashes = tuple(raw.pop("info_hashes", ()))
        return TorrentStatus(**raw, files=files, readers=readers, info_hashes=info_hashes)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
