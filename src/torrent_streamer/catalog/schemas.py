"""Catalog request and response models: strict, unknown fields refused, every size bounded (SR-3.1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from torrent_streamer.catalog.magnet import MagnetError, parse_magnet
from torrent_streamer.catalog.models import Category, EntryStatus, ReportReason
from torrent_streamer.catalog.query import MAX_QUERY_LENGTH, clean_text
from torrent_streamer.catalog.torznab import validate_indexer_url

MAX_PAGE_SIZE = 100
Tag = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[\w][\w .+-]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SearchSort(StrEnum):
    relevance = "relevance"
    seeders = "seeders"
    newest = "newest"


class SearchParams(Strict):
    """Query parameters of ``GET /torrents/search`` (FastAPI converts query strings before validation)."""

    model_config = ConfigDict(extra="forbid", strict=False)
    q: str = Field(min_length=1, max_length=MAX_QUERY_LENGTH)
    category: Category | None = None
    min_size: int | None = Field(default=None, ge=0, le=2**62)
    max_size: int | None = Field(default=None, ge=0, le=2**62)
    sort: SearchSort = SearchSort.relevance
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=512)


class SearchResultPublic(Strict):
    id: uuid.UUID
    title: str
    category: Category
    size_bytes: int
    seeders: int
    leechers: int
    info_hash: str
    magnet: str  # hand it to POST /api/v1/torrents {magnet} to stream
    created_at: datetime


class ParsedNamePublic(Strict):
    """What an indexer result's name says, parsed like every catalog entry (`catalog/parsing.py`)."""

    title: str
    kind: str  # movie | show
    year: int | None
    season: int | None
    episode: int | None
    resolution: str | None
    source: str | None
    video_codec: str | None
    hdr: str | None
    audio_codec: str | None
    audio_channels: str | None
    languages: list[str]
    group: str | None


class ExternalResultPublic(Strict):
    title: str
    category: Category
    size_bytes: int
    seeders: int
    leechers: int
    info_hash: str
    magnet: str
    indexer: str
    # null only when the search's parse budget ran out before this name (parses are cached per name)
    parsed: ParsedNamePublic | None = None


class IndexerStatusPublic(Strict):
    name: str
    status: str  # ok | cached | timeout | error | invalid | blocked
    results: int


class SearchPage(Strict):
    items: list[SearchResultPublic]
    external: list[ExternalResultPublic]  # indexer results not already in the catalog (first page only)
    indexers: list[IndexerStatusPublic]
    next_cursor: str | None


class CatalogEntryCreate(Strict):
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    magnet: str = Field(min_length=8, max_length=4096)
    size_bytes: int = Field(ge=0, le=2**62)
    category: Annotated[Category, Field(strict=False)]  # JSON strings → the enum (values still checked)
    tags: list[Tag] = Field(default_factory=list, max_length=10)

    @field_validator("title", "description")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = clean_text(value).strip()
        if not cleaned:
            raise ValueError("must not be blank")
        return cleaned

    @field_validator("magnet")
    @classmethod
    def _magnet(cls, value: str) -> str:
        try:
            parse_magnet(value)
        except MagnetError as exc:
            raise ValueError(str(exc)) from None
        return value


class CatalogEntryPublic(Strict):
    id: uuid.UUID
    title: str
    description: str | None
    category: Category
    tags: list[str]
    size_bytes: int
    info_hash_v1: str | None
    info_hash_v2: str | None
    magnet: str
    status: EntryStatus
    seeders: int
    leechers: int
    created_at: datetime


class ReportCreate(Strict):
    reason: Annotated[ReportReason, Field(strict=False)]
    comment: str | None = Field(default=None, max_length=500)


class ModerationNote(Strict):
    reason: str | None = Field(default=None, max_length=500)


class QueueItemPublic(Strict):
    entry: CatalogEntryPublic
    open_reports: int


class IndexerCreate(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w][\w .-]*$")
    url: str = Field(min_length=8, max_length=2048)
    api_key: SecretStr | None = Field(default=None, max_length=256)
    enabled: bool = True
    timeout_seconds: float = Field(default=5.0, ge=0.1, le=30.0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return validate_indexer_url(value)


class IndexerPublic(Strict):
    """An indexer as admins see it: the API key is never returned, only whether one is set."""

    id: uuid.UUID
    name: str
    url: str
    enabled: bool
    timeout_seconds: float
    has_api_key: bool
    created_at: datetime


# ---------------------------------------------------------------- works and releases

Resolution = Annotated[str, StringConstraints(pattern=r"^\d{3,4}p$")]
Codec = Annotated[str, StringConstraints(pattern=r"^[a-z0-9+-]{2,16}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Playable = Literal["direct", "remux", "transcode", "unknown"]


class ReleaseFilters(Strict):
    """Filters shared by ``/catalog/works`` and ``/catalog/works/{id}/releases``."""

    model_config = ConfigDict(extra="forbid", strict=False)
    resolution: Resolution | None = None
    codec: Codec | None = None
    season: int | None = Field(default=None, ge=0, le=9999)
    episode: int | None = Field(default=None, ge=0, le=9999)
    language: LanguageCode | None = None
    year: int | None = Field(default=None, ge=1878, le=2100)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=512)


class WorkSearchParams(ReleaseFilters):
    q: str = Field(min_length=1, max_length=MAX_QUERY_LENGTH)


class ReleaseSort(StrEnum):
    health = "health"
    size = "size"
    resolution = "resolution"


class ReleaseListParams(ReleaseFilters):
    sort: ReleaseSort = ReleaseSort.health


class ReleasePublic(Strict):
    id: uuid.UUID
    name: str
    resolution: str | None
    source: str | None
    video_codec: str | None
    hdr: str | None
    audio_codec: str | None
    audio_channels: str | None
    languages: list[str]
    group: str | None
    season: int | None
    episode: int | None
    seeders: int
    leechers: int
    health_checked_at: datetime | None
    size_bytes: int
    playable: Playable
    info_hash: str
    magnet: str  # hand it to POST /api/v1/torrents {magnet} to stream


class WorkPublic(Strict):
    id: uuid.UUID
    title: str
    year: int | None
    kind: Literal["movie", "show"]
    season: int | None
    episode: int | None
    release_count: int
    best_release: ReleasePublic | None
    playable: Playable


class WorkPage(Strict):
    items: list[WorkPublic]
    next_cursor: str | None


class ReleasePage(Strict):
    items: list[ReleasePublic]
    next_cursor: str | None
