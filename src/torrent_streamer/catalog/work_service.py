"""Works and releases: parsing entries into works, work search, a work's releases, the backfill.

Services never commit; the route (or the CLI command) does, once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.catalog import work_repository as works
from torrent_streamer.catalog.cursor import CursorError, decode_cursor, encode_cursor
from torrent_streamer.catalog.errors import EntryNotFound, InvalidCursor
from torrent_streamer.catalog.health import health_score
from torrent_streamer.catalog.models import CatalogEntry, CatalogWork
from torrent_streamer.catalog.parsing import PARSER_VERSION, ParsedRelease, parse_release, title_key
from torrent_streamer.catalog.playable import ClientProfile, playable
from torrent_streamer.catalog.repository import MODES
from torrent_streamer.catalog.schemas import (
    ReleaseListParams,
    ReleasePage,
    ReleasePublic,
    WorkPage,
    WorkPublic,
    WorkSearchParams,
)

MAX_QUERY_WORDS = 12


async def parse_entry(session: AsyncSession, entry: CatalogEntry, now: datetime) -> None:
    """Fill an entry's parsed columns and its work (parsing runs in a worker thread)."""
    parsed = await anyio.to_thread.run_sync(parse_release, entry.title)
    for column, value in parsed.columns().items():
        setattr(entry, column, value)
    entry.health = health_score(entry.seeders, entry.leechers)
    (entry.work_id,) = await works.assign_works(session, [parsed], now)


def parsed_rows(rows: list[dict[str, Any]], parse: Any = parse_release) -> list[ParsedRelease]:
    """Add the parsed columns and the health to import rows (blocking: call it in a worker thread)."""
    parsed = []
    for row in rows:
        p: ParsedRelease = parse(row["title"])
        row.update(p.columns())
        row["health"] = health_score(row["seeders"], row["leechers"])
        parsed.append(p)
    return parsed


async def backfill(session: AsyncSession, now: datetime, batch: int = 500) -> int:
    """Parse one batch of entries parsed by an older parser (or never); returns how many (0 = done)."""
    entries = await works.unparsed_batch(session, PARSER_VERSION, batch)
    for entry in entries:
        await parse_entry(session, entry, now)
    await session.flush()
    await works.refresh_works(session, [e.work_id for e in entries])
    return len(entries)


def release_public(entry: CatalogEntry, profile: ClientProfile) -> ReleasePublic:
    return ReleasePublic(
        id=entry.id,
        name=entry.title,
        resolution=entry.resolution,
        source=entry.source,
        video_codec=entry.video_codec,
        hdr=entry.hdr,
        audio_codec=entry.audio_codec,
        audio_channels=entry.audio_channels,
        languages=[code for code in (entry.languages or "").split(",") if code],
        group=entry.release_group,
        season=entry.season,
        episode=entry.episode,
        seeders=entry.seeders,
        leechers=entry.leechers,
        health_checked_at=entry.health_checked_at,
        size_bytes=entry.size_bytes,
        playable=playable(entry.video_codec, entry.audio_codec, profile, audio_channels=entry.audio_channels),  # type: ignore[arg-type]
        info_hash=entry.info_hash,
        magnet=entry.magnet,
    )


def work_public(work: CatalogWork, best: CatalogEntry | None, profile: ClientProfile) -> WorkPublic:
    best_release = release_public(best, profile) if best is not None else None
    return WorkPublic(
        id=work.id,
        title=work.title,
        year=work.year,
        kind="show" if work.kind == "show" else "movie",
        season=work.season,
        episode=work.episode,
        release_count=work.release_count,
        best_release=best_release,
        playable=best_release.playable if best_release is not None else "unknown",
    )


def _fingerprint(params: WorkSearchParams | ReleaseListParams, scope: str) -> str:
    material = params.model_dump(exclude={"cursor", "limit"}, mode="json") | {"scope": scope}
    if isinstance(params, WorkSearchParams):
        material["q"] = title_key(params.q)
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def _position(token: str | None, fingerprint: str, key: bytes, numeric: type) -> tuple[Any, uuid.UUID, str] | None:
    if token is None:
        return None
    try:
        payload = decode_cursor(key, token)
        value, mode = payload["k"], str(payload.get("m", "words"))
        if payload.get("f") != fingerprint or mode not in MODES:
            raise CursorError("cursor belongs to another query")
        if isinstance(value, bool) or not isinstance(value, int | float if numeric is float else int):
            raise CursorError("bad cursor value")
        return value, uuid.UUID(str(payload["i"])), mode
    except (CursorError, KeyError, ValueError, TypeError):
        raise InvalidCursor("The cursor is invalid for this query.") from None


async def search_works(
    session: AsyncSession, params: WorkSearchParams, *, cursor_key: bytes, profile: ClientProfile
) -> WorkPage:
    fingerprint = _fingerprint(params, "works")
    position = _position(params.cursor, fingerprint, cursor_key, float)
    words = title_key(params.q).split()[:MAX_QUERY_WORDS]
    flt = works.WorkFilter(
        words=words,
        years=[int(w) for w in words if len(w) == 4 and w.isdigit() and 1878 <= int(w) <= 2100],
        year=params.year,
        season=params.season,
        episode=params.episode,
        resolution=params.resolution,
        codec=params.codec,
        language=params.language,
        limit=params.limit,
        after=(float(position[0]), position[1]) if position else None,
        mode=position[2] if position else None,
    )
    rows, mode = await works.search_works(session, flt)
    page = rows[: params.limit]
    best = await works.entries_by_id(session, [w.best_entry_id for w, _ in page if w.best_entry_id is not None])
    next_cursor = None
    if len(rows) > params.limit and page:
        last, value = page[-1]
        next_cursor = encode_cursor(cursor_key, {"f": fingerprint, "i": last.id.hex, "k": value, "m": mode})
    items = [work_public(w, best.get(w.best_entry_id) if w.best_entry_id else None, profile) for w, _ in page]
    return WorkPage(items=items, next_cursor=next_cursor)


async def list_releases(
    session: AsyncSession,
    work_id: uuid.UUID,
    params: ReleaseListParams,
    *,
    cursor_key: bytes,
    profile: ClientProfile,
) -> ReleasePage:
    if await works.get_work(session, work_id) is None:
        raise EntryNotFound("No such work.")
    fingerprint = _fingerprint(params, f"releases:{work_id}")
    position = _position(params.cursor, fingerprint, cursor_key, int)
    flt = works.ReleaseFilter(
        resolution=params.resolution,
        codec=params.codec,
        season=params.season,
        episode=params.episode,
        language=params.language,
        year=params.year,
        sort=params.sort.value,
        limit=params.limit,
        after=(int(position[0]), position[1]) if position else None,
    )
    rows = await works.list_releases(session, work_id, flt)
    page = rows[: params.limit]
    next_cursor = None
    if len(rows) > params.limit and page:
        last, value = page[-1]
        next_cursor = encode_cursor(cursor_key, {"f": fingerprint, "i": last.id.hex, "k": value, "m": "words"})
    return ReleasePage(items=[release_public(e, profile) for e, _ in page], next_cursor=next_cursor)


async def refresh_after_change(session: AsyncSession, entries: Sequence[CatalogEntry]) -> None:
    """Keep the works' counts, health and best release true after a status or swarm change."""
    await session.flush()
    await works.refresh_works(session, [e.work_id for e in entries])
