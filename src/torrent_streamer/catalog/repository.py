"""All catalog SQL: search on each dialect, entry and report queries, import upserts, indexers.

Everything is SQLAlchemy Core/ORM with bound parameters (SR-3.2); FTS syntax comes from ``query``.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from torrent_streamer.catalog import query as text_query
from torrent_streamer.catalog.models import CatalogEntry, CatalogReport, CatalogWork, Category, EntryStatus, Indexer
from torrent_streamer.catalog.parsing import title_key

TYPO_CANDIDATES = 500  # typo fallback: at most this many candidates are scored, per query
TYPO_THRESHOLD = 0.6  # the same word-similarity threshold as pg_trgm's default
BROAD_MATCHES = 1000  # more word matches than this: relevance orders by popularity (bounded work)
# PostgreSQL: when the planner's estimate (statistics of the last ANALYZE) is this many rows, the
# query is broad without counting: the probe's GIN bitmap over 100k+ rows ("the") is skipped.
SURELY_BROAD = 20 * BROAD_MATCHES
MID_BROAD = 5 * BROAD_MATCHES  # below this estimate a broad query sorts its matches rather than walk
MODES = ("words", "popular", "typo")
PARSED_COLUMNS = (
    *("work_id", "parsed_title", "year", "season", "season_end", "episode", "episode_end", "resolution"),
    *("source", "video_codec", "hdr", "audio_codec", "audio_channels", "languages", "release_group"),
    *("parse_version", "health"),
)
_REGISTERED: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass(frozen=True)
class SearchFilter:
    text: str  # cleaned user query (websearch syntax kept)
    words: list[str]
    category: Category | None
    min_size: int | None
    max_size: int | None
    sort: str  # relevance | seeders | newest
    limit: int
    after: tuple[Any, uuid.UUID] | None  # keyset position: (sort value, id)
    mode: str | None = None  # fixed by the first page (kept in the cursor), so pages stay consistent


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _ensure_sqlite_functions(session: AsyncSession) -> None:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is not None and driver not in _REGISTERED:
        await driver.create_function("ts_word_similarity", 2, text_query.word_similarity, deterministic=True)
        _REGISTERED.add(driver)


class Explain(sa.sql.expression.Executable, sa.sql.expression.ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>`` with the select's bound parameters (PostgreSQL)."""

    inherit_cache = False

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _compile_explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


async def estimated_rows(session: AsyncSession, *statements: sa.Select[Any]) -> list[float]:
    """The planner's row estimates for ``statements`` (PostgreSQL only): one ``EXPLAIN`` of a select
    holding each as a scalar subquery (planned, never executed), one round trip."""
    combined = sa.select(*(statement.scalar_subquery() for statement in statements))
    plan = (await session.execute(Explain(combined))).scalar_one()
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    subplans = [p for p in plan[0]["Plan"].get("Plans", []) if p.get("Parent Relationship") == "InitPlan"]
    return [float(p["Plan Rows"]) for p in subplans]


Clause = tuple[sa.ColumnElement[bool], sa.ColumnElement[float]]  # (match condition, relevance score)


def _pg_words(flt: SearchFilter, *, common_prefix: bool = False) -> Clause:
    """Full-text: every word, the last as a prefix; or, when the query uses it, the websearch syntax
    (quotes, ``or``, ``-word``). Scored by ts_rank: title words weigh more, normalised by length.

    ``common_prefix``: the last word, as a prefix, is in a large share of all entries ("1080p"): a
    GIN prefix match collects every one of them before the other words narrow it (~60 ms at 1M
    rows), so the index matches the other, exact words and the whole query is checked on those rows
    (``strip(fts_document)`` is not indexed: the same match, as a filter)."""
    simple = sa.cast(sa.literal("simple"), postgresql.REGCONFIG)
    document = sa.literal_column("catalog_entries.fts_document", type_=postgresql.TSVECTOR)
    if text_query.uses_websearch_syntax(flt.text):
        tsquery = sa.func.websearch_to_tsquery(simple, flt.text)
    else:
        tsquery = sa.func.to_tsquery(simple, text_query.tsquery_prefix(flt.words))
    score = sa.cast(sa.func.ts_rank(document, tsquery, 1), sa.Double)
    if common_prefix and len(flt.words) > 1 and not text_query.uses_websearch_syntax(flt.text):
        exact = sa.func.to_tsquery(simple, " & ".join(flt.words[:-1]))
        stripped = sa.func.strip(document, type_=postgresql.TSVECTOR)
        return sa.and_(document.op("@@")(exact), stripped.op("@@")(tsquery)), score
    return document.op("@@")(tsquery), score


async def _pg_estimates(session: AsyncSession, flt: SearchFilter) -> tuple[float, float]:
    """Planner estimates (one round trip): entries matching every word, and matching the last word
    alone as a prefix (0 for a one-word or websearch query)."""
    simple = sa.cast(sa.literal("simple"), postgresql.REGCONFIG)
    document = sa.literal_column("catalog_entries.fts_document", type_=postgresql.TSVECTOR)
    match, _ = _pg_words(flt)
    statements = [sa.select(sa.literal(1)).where(CatalogEntry.status == EntryStatus.approved, match)]
    if len(flt.words) > 1 and not text_query.uses_websearch_syntax(flt.text):
        last = document.op("@@")(sa.func.to_tsquery(simple, text_query.tsquery_prefix(flt.words[-1:])))
        statements.append(sa.select(sa.literal(1)).select_from(CatalogEntry).where(last))
    estimates = await estimated_rows(session, *statements)
    if len(estimates) != len(statements):  # an unexpected plan shape: behave as without estimates
        return 0.0, 0.0
    return estimates[0], estimates[1] if len(estimates) > 1 else 0.0


def pg_typo_works(words: list[str]) -> sa.Select[uuid.UUID]:
    """Works whose title is within one typo per word of ``words`` (``title_key`` words; at most
    ``TYPO_CANDIDATES``).

    Candidates come cheaply from the title's words: for every query word of 4+ letters, the title
    has a word beginning with its first half (``fts_title``, a prefix match in the GIN index) or
    ending with its second half (``fts_title_reversed``, the reversed words, same prefix match);
    then pg_trgm word similarity (threshold 0.6, as ``<%``) keeps the real matches. Shorter words
    only count in the similarity; a query without a 4+ letter word falls back to the trigram index
    (``<%`` over ``title_key``)."""
    phrase = " ".join(words)
    live = CatalogWork.release_count > 0
    simple = sa.cast(sa.literal("simple"), postgresql.REGCONFIG)
    forward = sa.literal_column("catalog_works.fts_title", type_=postgresql.TSVECTOR)
    backward = sa.literal_column("catalog_works.fts_title_reversed", type_=postgresql.TSVECTOR)
    per_word = []
    for word in dict.fromkeys(words):
        heads, tails = text_query.typo_prefixes([word])
        if heads:
            per_word.append(
                sa.or_(
                    forward.op("@@")(sa.func.to_tsquery(simple, text_query.tsquery_any_prefix(heads))),
                    backward.op("@@")(sa.func.to_tsquery(simple, text_query.tsquery_any_prefix(tails))),
                )
            )
    if not per_word:
        return (
            sa.select(CatalogWork.id)
            .where(live, sa.literal(phrase).op("<%")(CatalogWork.title_key))
            .limit(TYPO_CANDIDATES)
        )
    similar = sa.func.word_similarity(phrase, CatalogWork.title_key) >= TYPO_THRESHOLD
    return sa.select(CatalogWork.id).where(live, *per_word, similar).limit(TYPO_CANDIDATES)


def _pg_typos(flt: SearchFilter) -> Clause:
    """Typo fallback: the works within one typo of the title words (``pg_typo_works``: 200k short titles
    rather than 1M release names) and their approved releases. Entries not parsed yet (no work) are
    matched on their own name (``<%``, a partial trigram index ``WHERE work_id IS NULL``). Ranked by
    pg_trgm word similarity to the release name."""
    phrase = " ".join(flt.words)
    similarity = sa.cast(sa.func.word_similarity(phrase, CatalogEntry.title), sa.Double)
    title_words = [w for w in flt.words if not text_query.is_release_tag(w)] or flt.words
    of_works = (
        sa.select(CatalogEntry.id)
        .where(
            CatalogEntry.work_id.in_(pg_typo_works(title_key(" ".join(title_words)).split())),
            CatalogEntry.status == EntryStatus.approved,
        )
        .limit(TYPO_CANDIDATES)
    )
    unparsed = (
        sa.select(CatalogEntry.id)
        .where(
            CatalogEntry.work_id.is_(None),
            CatalogEntry.status == EntryStatus.approved,
            sa.literal(phrase).op("<%")(CatalogEntry.title),
        )
        .limit(TYPO_CANDIDATES)
    )
    return CatalogEntry.id.in_(sa.union_all(of_works, unparsed)), similarity


def _sqlite_words(flt: SearchFilter) -> Clause:
    """FTS5: every word (the last as a prefix); a corpus-independent score (bm25 would shift with
    every insert and break keyset cursors): title hits first, then shorter titles."""
    rowid: sa.ColumnElement[int] = sa.literal_column("catalog_entries.rowid", type_=sa.Integer)
    fts = sa.table("catalog_fts", sa.column("rowid"))
    match = rowid.in_(
        sa.select(fts.c.rowid).where(sa.literal_column("catalog_fts").op("MATCH")(text_query.fts5_match(flt.words)))
    )
    in_title = sa.case((sa.func.instr(sa.func.lower(CatalogEntry.title), flt.words[0]) > 0, 1.0), else_=0.0)
    score = 1.0 + 0.5 * in_title + 1.0 / (2.0 + sa.func.length(CatalogEntry.title))
    return match, sa.cast(score, sa.Double)


def sqlite_trigram_typos(table: str, fts_table: str, title: sa.ColumnElement[str], words: list[str]) -> Clause:
    """Typo fallback on SQLite: FTS5 trigram candidates of ``table`` (bounded), kept when their word
    similarity to ``title`` is high. Shared by entry search and work search."""
    rowid: sa.ColumnElement[int] = sa.literal_column(f"{table}.rowid", type_=sa.Integer)
    similarity = sa.func.ts_word_similarity(" ".join(words), title, type_=sa.Double)
    pieces = text_query.fts5_trigram_pieces(words)
    if not pieces:
        return sa.false(), similarity
    grams = sa.table(fts_table, sa.column("rowid"))
    candidates = sa.select(grams.c.rowid).where(sa.literal_column(fts_table).op("MATCH")(pieces)).limit(TYPO_CANDIDATES)
    return sa.and_(rowid.in_(candidates), similarity >= TYPO_THRESHOLD), similarity


def _sqlite_typos(flt: SearchFilter) -> Clause:
    return sqlite_trigram_typos("catalog_entries", "catalog_fts_trigram", CatalogEntry.title.expression, flt.words)


async def choose_mode(session: AsyncSession, matches: sa.Select[Any], *, ranked: bool, estimate: float = 0) -> str:
    """``typo`` when ``matches`` (a select of the word matches) finds nothing, ``popular`` when it
    finds more than ``BROAD_MATCHES`` and the order is by relevance, else ``words``.

    ``estimate`` (PostgreSQL entry search: the planner's) of ``SURELY_BROAD`` rows or more is broad
    without counting. Otherwise one bounded probe counts up to ``BROAD_MATCHES + 1`` matches."""
    if ranked and estimate >= SURELY_BROAD:
        return "popular"
    probe = matches.limit(BROAD_MATCHES + 1).subquery()
    found = int(await session.scalar(sa.select(sa.func.count()).select_from(probe)) or 0)
    if found == 0:
        return "typo"
    return "popular" if found > BROAD_MATCHES and ranked else "words"


async def search(session: AsyncSession, flt: SearchFilter) -> tuple[list[tuple[CatalogEntry, Any]], str]:
    """Approved entries matching ``flt``, ordered by (sort key DESC, id ASC), ``limit + 1`` rows,
    and the mode used (``words``, ``popular`` or ``typo``) for the next page's cursor.

    Relevance ranks every word match when there are at most ``BROAD_MATCHES``; a broader query
    ("the", "love") orders its matches by seeders instead, so no query scores a huge match set.
    """
    if not flt.words:
        return [], "words"
    if dialect_of(session) == "postgresql":
        estimate, last_word = await _pg_estimates(session, flt)
        match, score = _pg_words(flt, common_prefix=last_word >= SURELY_BROAD)
        typos = _pg_typos
    else:
        await _ensure_sqlite_functions(session)
        match, score = _sqlite_words(flt)
        typos = _sqlite_typos
        estimate = 0.0
    matches = sa.select(sa.literal(1)).where(CatalogEntry.status == EntryStatus.approved, match)
    mode = flt.mode or await choose_mode(session, matches, ranked=flt.sort == "relevance", estimate=estimate)
    if mode == "typo":
        match, score = typos(flt)
    popular: sa.ColumnElement[Any] = CatalogEntry.seeders.expression
    if 0 < estimate < MID_BROAD:
        # a few thousand matches (0.4 % of 1M): sorting them (bitmap scan, top-N) beats walking the
        # seeders index, which visits ~250 rows for each one on the page. Same values and order.
        popular = CatalogEntry.seeders + 0
    keys: dict[str, sa.ColumnElement[Any]] = {
        "relevance": popular if mode == "popular" else score,
        "seeders": CatalogEntry.seeders.expression,
        "newest": CatalogEntry.created_at.expression,
    }
    key = keys[flt.sort]
    stmt = sa.select(CatalogEntry, key.label("sort_key")).where(CatalogEntry.status == EntryStatus.approved, match)
    if flt.category is not None:
        stmt = stmt.where(CatalogEntry.category == flt.category)
    if flt.min_size is not None:
        stmt = stmt.where(CatalogEntry.size_bytes >= flt.min_size)
    if flt.max_size is not None:
        stmt = stmt.where(CatalogEntry.size_bytes <= flt.max_size)
    if flt.after is not None:
        value, last_id = flt.after
        stmt = stmt.where(sa.or_(key < value, sa.and_(key == value, CatalogEntry.id > last_id)))
    stmt = stmt.order_by(key.desc(), CatalogEntry.id.asc()).limit(flt.limit + 1)
    result = await session.execute(stmt)
    return [(row[0], row[1]) for row in result.all()], mode


async def get_entry(session: AsyncSession, entry_id: uuid.UUID, *, for_update: bool = False) -> CatalogEntry | None:
    stmt = sa.select(CatalogEntry).where(CatalogEntry.id == entry_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def entry_with_hash(session: AsyncSession, info_hash_v1: str | None, info_hash_v2: str | None) -> bool:
    conditions = []
    if info_hash_v1:
        conditions.append(CatalogEntry.info_hash_v1 == info_hash_v1)
    if info_hash_v2:
        conditions.append(CatalogEntry.info_hash_v2 == info_hash_v2)
    if not conditions:
        return False
    found = await session.execute(sa.select(CatalogEntry.id).where(sa.or_(*conditions)).limit(1))
    return found.first() is not None


async def approved_hashes(session: AsyncSession, hashes: Sequence[str]) -> set[str]:
    """Which of these info-hashes (v1 hex or v2 hex) are already approved catalog entries."""
    if not hashes:
        return set()
    stmt = sa.select(CatalogEntry.info_hash_v1, CatalogEntry.info_hash_v2).where(
        CatalogEntry.status == EntryStatus.approved,
        sa.or_(CatalogEntry.info_hash_v1.in_(hashes), CatalogEntry.info_hash_v2.in_(hashes)),
    )
    found: set[str] = set()
    for v1, v2 in (await session.execute(stmt)).all():
        found.update(h for h in (v1, v2) if h)
    return found


async def upsert_imported(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert or refresh imported entries by v1 info-hash; a moderator's status is never overwritten."""
    if not rows:
        return
    insert = postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert
    stmt = insert(CatalogEntry)
    stmt = stmt.on_conflict_do_update(
        index_elements=[CatalogEntry.info_hash_v1],
        set_={
            "title": stmt.excluded.title,
            "size_bytes": stmt.excluded.size_bytes,
            "seeders": stmt.excluded.seeders,
            "leechers": stmt.excluded.leechers,
            "updated_at": stmt.excluded.updated_at,
            **{column: stmt.excluded[column] for column in PARSED_COLUMNS if column in rows[0]},
        },
    )
    await session.execute(stmt, rows)


async def has_reported(session: AsyncSession, entry_id: uuid.UUID, reporter_id: uuid.UUID) -> bool:
    stmt = sa.select(CatalogReport.id).where(
        CatalogReport.entry_id == entry_id, CatalogReport.reporter_id == reporter_id
    )
    return (await session.execute(stmt)).first() is not None


async def resolve_reports(session: AsyncSession, entry_id: uuid.UUID, now: datetime) -> int:
    stmt = (
        sa.update(CatalogReport)
        .where(CatalogReport.entry_id == entry_id, CatalogReport.resolved_at.is_(None))
        .values(resolved_at=now)
    )
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def moderation_queue(session: AsyncSession, limit: int) -> list[tuple[CatalogEntry, int]]:
    """Pending entries and entries with unresolved reports, oldest first, with their open report count."""
    open_reports = (
        sa.select(CatalogReport.entry_id, sa.func.count().label("reports"))
        .where(CatalogReport.resolved_at.is_(None))
        .group_by(CatalogReport.entry_id)
        .subquery()
    )
    stmt = (
        sa.select(CatalogEntry, sa.func.coalesce(open_reports.c.reports, 0))
        .outerjoin(open_reports, open_reports.c.entry_id == CatalogEntry.id)
        .where(
            sa.or_(
                CatalogEntry.status == EntryStatus.pending,
                sa.and_(open_reports.c.reports > 0, CatalogEntry.status == EntryStatus.approved),
            )
        )
        .order_by(CatalogEntry.created_at.asc(), CatalogEntry.id.asc())
        .limit(limit)
    )
    return [(row[0], int(row[1])) for row in (await session.execute(stmt)).all()]


async def list_indexers(session: AsyncSession, *, enabled_only: bool = False) -> list[Indexer]:
    stmt = sa.select(Indexer).order_by(Indexer.name)
    if enabled_only:
        stmt = stmt.where(Indexer.enabled.is_(True))
    return list((await session.execute(stmt)).scalars())


async def indexer_named(session: AsyncSession, name: str) -> Indexer | None:
    return (await session.execute(sa.select(Indexer).where(Indexer.name == name))).scalar_one_or_none()


async def get_indexer(session: AsyncSession, indexer_id: uuid.UUID) -> Indexer | None:
    return await session.get(Indexer, indexer_id)
