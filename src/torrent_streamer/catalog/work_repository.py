"""All SQL for works (releases grouped by parsed title): grouping, their stats, search and release lists.

Works are matched on ``title_key`` (case/accent-free, folded in Python): PostgreSQL ``fts_title``
tsvector + trigram GIN, SQLite FTS5 ``catalog_fts_works`` (+ trigram table), both from migration 0010.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.catalog import query as text_query
from torrent_streamer.catalog.health import DEAD_WEIGHT, MAX_HEALTH
from torrent_streamer.catalog.models import CatalogEntry, CatalogWork, EntryStatus
from torrent_streamer.catalog.parsing import ParsedRelease
from torrent_streamer.catalog.repository import (
    choose_mode,
    dialect_of,
    pg_typo_works,
    sqlite_trigram_typos,
)

RESOLUTION_RANK = {"4320p": 4320, "2160p": 2160, "1440p": 1440, "1080p": 1080, "720p": 720, "576p": 576, "480p": 480}


@dataclass(frozen=True)
class WorkFilter:
    words: list[str]  # title_key words of the query
    years: list[int]  # year-like words among them: each matches the work's year or a title word
    year: int | None
    season: int | None
    episode: int | None
    resolution: str | None
    codec: str | None
    language: str | None
    limit: int
    after: tuple[float, uuid.UUID] | None
    mode: str | None  # words | popular | typo, fixed by the first page


@dataclass(frozen=True)
class ReleaseFilter:
    resolution: str | None
    codec: str | None
    season: int | None
    episode: int | None
    language: str | None
    year: int | None
    sort: str  # health | size | resolution
    limit: int
    after: tuple[int, uuid.UUID] | None


# ---------------------------------------------------------------- grouping and stats


def work_row(p: ParsedRelease, now: datetime) -> dict[str, Any]:
    """The `catalog_works` row a parse creates (a movie keeps its year, a show its season and episode)."""
    return {
        "id": uuid.uuid4(),
        "key": p.work_key[:400],
        "kind": p.kind,
        "title": p.title[:300],
        "title_key": p.title_key[:300],
        "year": p.year if p.kind == "movie" else None,
        "season": p.season if p.kind == "show" else None,
        "episode": p.episode if p.kind == "show" else None,
        "created_at": now,
        "updated_at": now,
    }


async def assign_works(session: AsyncSession, parsed: Sequence[ParsedRelease], now: datetime) -> list[uuid.UUID]:
    """The work id of each parse (in order), creating missing works (``ON CONFLICT DO NOTHING``)."""
    if not parsed:
        return []
    rows: dict[str, dict[str, Any]] = {}
    for p in parsed:
        if p.work_key not in rows:
            rows[p.work_key] = work_row(p, now)
    insert = postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert
    await session.execute(
        insert(CatalogWork).on_conflict_do_nothing(index_elements=[CatalogWork.key]), list(rows.values())
    )
    found = await session.execute(sa.select(CatalogWork.key, CatalogWork.id).where(CatalogWork.key.in_(list(rows))))
    ids = {key: work_id for key, work_id in found.all()}
    return [ids[p.work_key[:400]] for p in parsed]


async def refresh_works(session: AsyncSession, work_ids: Iterable[uuid.UUID | None]) -> None:
    """Recount approved releases, the best health and the best release of these works."""
    ids = sorted({w for w in work_ids if w is not None})
    entry = sa.orm.aliased(CatalogEntry)
    approved = sa.and_(entry.work_id == CatalogWork.id, entry.status == EntryStatus.approved)
    best = (
        sa.select(entry.id).where(approved).order_by(entry.health.desc(), entry.seeders.desc(), entry.id.asc()).limit(1)
    )
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        await session.execute(
            sa.update(CatalogWork)
            .where(CatalogWork.id.in_(chunk))
            .values(
                release_count=sa.select(sa.func.count()).where(approved).scalar_subquery(),
                health=sa.func.coalesce(sa.select(sa.func.max(entry.health)).where(approved).scalar_subquery(), 0),
                best_entry_id=best.with_only_columns(entry.id).scalar_subquery(),
                # the best release's spelling ("Amélie", not "AMELIE"); kept when none is approved
                title=sa.func.coalesce(
                    best.with_only_columns(sa.func.substr(entry.parsed_title, 1, 300)).scalar_subquery(),
                    CatalogWork.title,
                ),
            )
            .execution_options(synchronize_session=False)
        )


async def work_ids_of(session: AsyncSession, entry_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    found = await session.execute(sa.select(CatalogEntry.work_id).where(CatalogEntry.id.in_(entry_ids)))
    return [w for (w,) in found.all() if w is not None]


# ---------------------------------------------------------------- search


def _live() -> sa.ColumnElement[bool]:
    """``release_count > 0`` with a literal 0, so a generic (cached) plan can still prove the partial
    index ``ix_catalog_works_live_health`` applies (a bound parameter would not)."""
    return CatalogWork.release_count > sa.literal_column("0", type_=sa.Integer)


def _health_weight(column: sa.ColumnElement[int]) -> sa.ColumnElement[float]:
    """SQL twin of ``health.health_weight``."""
    return sa.literal(DEAD_WEIGHT) + sa.literal(1 - DEAD_WEIGHT) * sa.cast(column, sa.Double) / MAX_HEALTH


def _pg_words(words: list[str]) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[float]]:
    simple = sa.cast(sa.literal("simple"), postgresql.REGCONFIG)
    document = sa.literal_column("catalog_works.fts_title", type_=postgresql.TSVECTOR)
    tsquery = sa.func.to_tsquery(simple, text_query.tsquery_prefix(words))
    return document.op("@@")(tsquery), sa.cast(sa.func.ts_rank(document, tsquery, 1), sa.Double)


def _pg_typos(words: list[str]) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[float]]:
    similarity = sa.cast(sa.func.word_similarity(" ".join(words), CatalogWork.title_key), sa.Double)
    return CatalogWork.id.in_(pg_typo_works(words)), similarity


def _sqlite_words(words: list[str]) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[float]]:
    rowid: sa.ColumnElement[int] = sa.literal_column("catalog_works.rowid", type_=sa.Integer)
    fts = sa.table("catalog_fts_works", sa.column("rowid"))
    match = rowid.in_(
        sa.select(fts.c.rowid).where(sa.literal_column("catalog_fts_works").op("MATCH")(text_query.fts5_match(words)))
    )
    return match, sa.cast(1.0 + 1.0 / (2.0 + sa.func.length(CatalogWork.title_key)), sa.Double)


def _sqlite_typos(words: list[str]) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[float]]:
    return sqlite_trigram_typos("catalog_works", "catalog_fts_works_trigram", CatalogWork.title_key.expression, words)


def _release_conditions(entry: Any, flt: WorkFilter | ReleaseFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [entry.status == EntryStatus.approved]
    if flt.resolution is not None:
        conditions.append(entry.resolution == flt.resolution)
    if flt.codec is not None:
        conditions.append(entry.video_codec == flt.codec)
    if flt.language is not None:  # comma-separated codes: match one whole code
        conditions.append(("," + sa.func.coalesce(entry.languages, "") + ",").contains(f",{flt.language},"))
    return conditions


async def search_works(session: AsyncSession, flt: WorkFilter) -> tuple[list[tuple[CatalogWork, float]], str]:
    """Works with approved releases matching ``flt``, by relevance × health (``limit + 1`` rows), and the mode.

    A broad query (more than ``BROAD_MATCHES`` works) orders by health alone, so no request scores
    a huge match set; a query matching nothing falls back to trigram word similarity.
    """
    if not flt.words:
        return [], "words"
    if dialect_of(session) == "postgresql":
        words, typos = _pg_words, _pg_typos
    else:
        from torrent_streamer.catalog.repository import _ensure_sqlite_functions

        await _ensure_sqlite_functions(session)
        words, typos = _sqlite_words, _sqlite_typos
    plain = [w for w in flt.words if not w.isdigit() or int(w) not in flt.years] or flt.words
    match, relevance = words(plain)
    if plain is not flt.words:
        for year in flt.years:
            match = sa.and_(match, sa.or_(CatalogWork.year == year, words([str(year)])[0]))
    # the work's own filters narrow the probe too: "the" in 2001 is a few hundred works, ranked
    work_filters = [
        column == value
        for column, value in (
            (CatalogWork.year, flt.year),
            (CatalogWork.season, flt.season),
            (CatalogWork.episode, flt.episode),
        )
        if value is not None
    ]
    if flt.mode is not None:
        mode = flt.mode
    else:
        matches = sa.select(sa.literal(1)).where(_live(), match, *work_filters)
        mode = await choose_mode(session, matches, ranked=True)
        if mode == "typo" and work_filters:  # the words do match, only not with these filters: no typo
            words_only = sa.select(sa.literal(1)).where(_live(), match).limit(1)
            if await session.scalar(words_only) is not None:
                mode = "words"
    if mode == "typo":
        match, relevance = typos(flt.words)
    weight = _health_weight(CatalogWork.health.expression)
    # popular: the bare column, so the walk down ix_catalog_works_live_health is the order
    key: sa.ColumnElement[Any] = (
        CatalogWork.health.expression if mode == "popular" else sa.cast(relevance * weight, sa.Double)
    )
    stmt = sa.select(CatalogWork, key.label("k")).where(_live(), match, *work_filters)
    if flt.resolution or flt.codec or flt.language:
        entry = sa.orm.aliased(CatalogEntry)
        stmt = stmt.where(sa.exists().where(entry.work_id == CatalogWork.id, *_release_conditions(entry, flt)))
    if flt.after is not None:
        value, last_id = flt.after
        after: Any = int(value) if mode == "popular" else value
        stmt = stmt.where(sa.or_(key < after, sa.and_(key == after, CatalogWork.id > last_id)))
    stmt = stmt.order_by(key.desc(), CatalogWork.id.asc()).limit(flt.limit + 1)
    return [(row[0], float(row[1])) for row in (await session.execute(stmt)).all()], mode


async def get_work(session: AsyncSession, work_id: uuid.UUID) -> CatalogWork | None:
    return await session.get(CatalogWork, work_id)


async def entries_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CatalogEntry]:
    if not ids:
        return {}
    found = await session.execute(sa.select(CatalogEntry).where(CatalogEntry.id.in_(ids)))
    return {entry.id: entry for entry in found.scalars()}


def resolution_rank(column: sa.ColumnElement[str | None]) -> sa.ColumnElement[int]:
    return sa.case(*((column == name, rank) for name, rank in RESOLUTION_RANK.items()), else_=0)


def release_sort_key(sort: str) -> sa.ColumnElement[int]:
    if sort == "size":
        return CatalogEntry.size_bytes.expression
    if sort == "resolution":
        return resolution_rank(CatalogEntry.resolution.expression)
    return CatalogEntry.health.expression


async def list_releases(
    session: AsyncSession, work_id: uuid.UUID, flt: ReleaseFilter
) -> list[tuple[CatalogEntry, int]]:
    """Approved releases of one work, by ``flt.sort`` (DESC, then id), keyset-paged, ``limit + 1`` rows."""
    key = release_sort_key(flt.sort)
    stmt = sa.select(CatalogEntry, key.label("k")).where(
        CatalogEntry.work_id == work_id, *_release_conditions(CatalogEntry, flt)
    )
    for column, value in (
        (CatalogEntry.season, flt.season),
        (CatalogEntry.episode, flt.episode),
        (CatalogEntry.year, flt.year),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.after is not None:
        value, last_id = flt.after
        stmt = stmt.where(sa.or_(key < value, sa.and_(key == value, CatalogEntry.id > last_id)))
    stmt = stmt.order_by(key.desc(), CatalogEntry.id.asc()).limit(flt.limit + 1)
    return [(row[0], int(row[1])) for row in (await session.execute(stmt)).all()]


async def unparsed_batch(session: AsyncSession, version: int, limit: int) -> list[CatalogEntry]:
    """Entries parsed by an older parser (or never), for the backfill."""
    stmt = sa.select(CatalogEntry).where(CatalogEntry.parse_version < version).order_by(CatalogEntry.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def refresh_swarms(session: AsyncSession, swarms: dict[str, tuple[int, int]], now: datetime) -> None:
    """Swarm numbers an indexer reported for entries the catalog holds (by v1 or v2 info-hash)."""
    from torrent_streamer.catalog.health import health_score

    if not swarms:
        return
    stmt = sa.select(CatalogEntry).where(
        sa.or_(CatalogEntry.info_hash_v1.in_(list(swarms)), CatalogEntry.info_hash_v2.in_(list(swarms)))
    )
    entries = list((await session.execute(stmt)).scalars())
    for entry in entries:
        entry.seeders, entry.leechers = swarms[entry.info_hash]
        entry.health = health_score(entry.seeders, entry.leechers)
        entry.health_checked_at = now
    await session.flush()
    await refresh_works(session, [e.work_id for e in entries])
