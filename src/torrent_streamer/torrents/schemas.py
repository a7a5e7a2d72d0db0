"""Request and response models of the torrents domain (strict, unknown fields refused, bounded).

The API's "torrent id" is the caller's library entry id; info-hashes are shown, row ids never.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

InfoHash = Annotated[str, StringConstraints(pattern=r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$", to_lower=True)]
TorrentState = Literal["metadata", "checking", "downloading", "seeding", "paused", "error", "missing", "timed-out"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class MagnetCreate(Strict):
    magnet: str = Field(min_length=20, max_length=8192)


class FilePublic(Strict):
    index: int
    name: str
    size: int
    mime: str
    streamable: bool
    subtitle_url: str | None = Field(None, description="WebVTT link when this file is a subtitle (SRT/VTT).")


class ReaderPublic(Strict):
    file_index: int
    position: int
    buffered_ahead_bytes: int
    seconds_to_start: float | None = Field(description="Estimated wait before playback can start; null: unknown.")


class TorrentPublic(Strict):
    id: uuid.UUID
    info_hash: str
    name: str
    total_size: int
    state: TorrentState
    progress: float
    peers: int
    seeds: int
    download_rate: int
    upload_rate: int
    error: str | None = None  # user-safe reason when state is "error" (e.g. disk full)
    added_at: datetime


class PlaybackStatsPublic(Strict):
    """HLS playback figures of this torrent's most recent player (null: not measured yet)."""

    first_segment_seconds: float | None = Field(description="Playback answer to its first segment on disk.")
    last_seek_seconds: float | None = Field(description="Last seek: segment request to segment on disk.")
    encoder_restarts: int
    active_encoders: int


class TorrentDetail(TorrentPublic):
    files: list[FilePublic]
    readers: list[ReaderPublic]
    start_estimate_seconds: float | None
    playback: PlaybackStatsPublic | None = None


class TorrentList(Strict):
    items: list[TorrentPublic]


class StreamUrlPublic(Strict):
    url: str
    expires_at: datetime


class HistoryUpdate(Strict):
    position_seconds: float = Field(ge=0, le=10_000_000)
    duration_seconds: float | None = Field(None, ge=0, le=10_000_000)


class HistoryPublic(Strict):
    torrent_id: uuid.UUID
    torrent_name: str
    file_index: int
    file_name: str | None = Field(None, description="The file's name while the service holds the torrent's metadata.")
    position_seconds: float
    duration_seconds: float | None
    updated_at: datetime


class HistoryList(Strict):
    items: list[HistoryPublic]


class BlockedCreate(Strict):
    info_hash: InfoHash
    reason: str = Field(min_length=1, max_length=500)


class BlockedPublic(Strict):
    id: uuid.UUID
    info_hash: str
    reason: str
    created_at: datetime


class BlockedList(Strict):
    items: list[BlockedPublic]


class AdminTorrentPublic(Strict):
    info_hash: str
    name: str
    total_size: int
    holders: int
    state: TorrentState
    progress: float
    node_id: str
    added_at: datetime
    last_watched_at: datetime | None


class AdminTorrentList(Strict):
    items: list[AdminTorrentPublic]


class StreamEvent(Strict):
    """One Server-Sent Event of ``/torrents/{id}/events`` (``event: status``)."""

    state: TorrentState
    progress: float
    peers: int
    seeds: int
    download_rate: int
    upload_rate: int
    readers: list[ReaderPublic]
