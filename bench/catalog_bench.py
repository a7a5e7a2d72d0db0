"""Catalog benchmark (by hand, never in CI): import throughput and search latency at scale.

Generates N torrents-csv rows, imports them into a fresh PostgreSQL and/or SQLite database,
then times a fixed query mix through the search service (p50/p95/p99). Reference, same run:
a primary-key lookup through the same session (the floor of one round trip).

    uv run python bench/catalog_bench.py --rows 1000000 --db postgres --db sqlite

``--load sql`` skips guessit (~10-25 ms a name) and generates the rows already parsed and grouped:
``--works`` works with ``--rows`` releases, skewed so popular works have many releases (PostgreSQL:
server-side SQL; SQLite: the importer's batch steps with parses built from the works). Either load
then also times the work searches and release lists.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import itertools
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select

from torrent_streamer.catalog import service, work_service
from torrent_streamer.catalog.cursor import cursor_key
from torrent_streamer.catalog.importer import import_file, vacuum_analyze
from torrent_streamer.catalog.models import CatalogEntry, CatalogWork
from torrent_streamer.catalog.playable import CHROMIUM
from torrent_streamer.catalog.schemas import ReleaseListParams, SearchParams, WorkSearchParams
from torrent_streamer.core import migrate
from torrent_streamer.core.clock import Clock
from torrent_streamer.core.crypto import SecretBox
from torrent_streamer.core.db import create_engine, create_sessionmaker
from torrent_streamer.core.secrets import new_encryption_key_entry

PG_ADMIN_DSN = os.environ.get("TS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SYLLABLES = [
    "ka",
    "ri",
    "to",
    "mu",
    "ne",
    "sa",
    "lo",
    "vi",
    "de",
    "qua",
    "zen",
    "tor",
    "mi",
    "la",
    "ro",
    "be",
    "fi",
    "no",
    "ga",
    "chu",
    "per",
    "stel",
    "lar",
]
COMMON = [
    "the",
    "of",
    "and",
    "a",
    "in",
    "to",
    "love",
    "night",
    "man",
    "world",
    "last",
    "star",
    "war",
    "dark",
    "house",
    "city",
    "king",
    "story",
    "girl",
    "life",
    "day",
    "time",
    "black",
    "red",
    "blue",
    "dead",
    "new",
    "old",
    "lost",
    "secret",
    "space",
    "ocean",
    "fire",
    "ice",
    "planet",
    "galaxy",
    "quest",
    "return",
    "rise",
]
QUALITY = ["1080p", "720p", "2160p", "480p", "HDTV", "WEB-DL", "BluRay", "FLAC", "MP3", "EPUB", "x264", "x265"]
QUERY_MIX: list[dict[str, Any]] = [
    {"q": "star war"},
    {"q": "interstellar"},
    {"q": "interstelar"},  # typo
    {"q": "galaxy quest 1080p"},
    {"q": "gal"},  # prefix while typing
    {"q": "love", "sort": "seeders"},
    {"q": "dark city", "sort": "newest"},
    {"q": "the", "category": "movies"},
    {"q": "secret ocean", "min_size": 1_000_000_000},
    {"q": "kari tomu"},
    {"q": "zenqua"},
    {"q": "planet fire ice", "sort": "seeders"},
]


def vocabulary(rng: random.Random, size: int = 20000) -> list[str]:
    made_up = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(size)}
    return [*COMMON, "interstellar", "inception", *sorted(made_up)]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    words = vocabulary(rng)
    cumulative = list(itertools.accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(words))))
    with path.open("w", encoding="utf-8") as out:
        out.write("infohash;name;size_bytes;created_unix;seeders;leechers;completed;scraped_date\n")
        for _ in range(rows):
            title = " ".join(w.capitalize() for w in rng.choices(words, cum_weights=cumulative, k=rng.randint(2, 5)))
            name = f"{title}.{rng.randint(1950, 2025)}.{rng.choice(QUALITY)}".replace(" ", ".")
            out.write(
                f"{secrets.token_hex(20)};{name};{rng.randint(10**6, 6 * 10**10)};"
                f"{rng.randint(10**9, 1.7 * 10**9)};{int(rng.paretovariate(1.2))};{rng.randint(0, 50)};0;0\n"
            )


async def _exists(kind: str, name: str) -> bool:
    if kind == "sqlite":
        return await asyncio.to_thread(Path(name).exists)
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        return bool(await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await connection.close()


async def pg_database(name: str, *, drop: bool = False, create: bool = True) -> str:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        if create or drop:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create and not drop:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


WORK_MIX: list[dict[str, Any]] = [
    {"q": "star war"},
    {"q": "interstellar"},
    {"q": "interstelar"},  # typo
    {"q": "galaxy quest", "resolution": "1080p"},
    {"q": "gal"},
    {"q": "love"},
    {"q": "dark city", "codec": "hevc"},
    {"q": "the", "year": 2001},
    {"q": "secret ocean", "season": 1},
    {"q": "kari tomu"},
    {"q": "zenqua"},
    {"q": "planet fire ice", "language": "fr"},
]
RESOLUTIONS = ["2160p", "1080p", "720p", "480p"]
CODECS = ["h264", "hevc", "av1", "xvid"]


async def sql_load(url: str, words: list[str], works: int, rows: int) -> None:
    """PostgreSQL only: works and parsed releases generated server-side, then works' stats refreshed."""
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await connection.execute("CREATE TEMP TABLE vocab (i int PRIMARY KEY, w text)")
        await connection.copy_records_to_table("vocab", records=list(enumerate(words)))
        n = len(words)
        await connection.execute(
            """CREATE TEMP TABLE w AS SELECT g AS i, gen_random_uuid() AS id,
                (SELECT string_agg(initcap(v.w), ' ' ORDER BY p.k)
                   FROM (SELECT k, floor(power(random(), 3) * $1)::int AS idx FROM generate_series(1, 2 + g % 3) k) p
                   JOIN vocab v ON v.i = p.idx) AS title,
                1950 + g % 75 AS year, CASE WHEN g % 4 = 0 THEN 'show' ELSE 'movie' END AS kind,
                CASE WHEN g % 4 = 0 THEN 1 + g % 8 END AS season, CASE WHEN g % 4 = 0 THEN 1 + g % 12 END AS episode
              FROM generate_series(0, $2 - 1) g""",
            n,
            works,
        )
        await connection.execute(
            """INSERT INTO catalog_works (id, key, kind, title, title_key, year, season, episode,
                 release_count, health, created_at, updated_at)
               SELECT id, kind || '|' || lower(title) || '|' || i, kind, title, lower(title),
                 CASE WHEN kind = 'movie' THEN year END, season, episode, 0, 0, now(), now() FROM w"""
        )
        await connection.execute(
            """INSERT INTO catalog_entries (id, title, info_hash_v1, magnet, size_bytes, category, tags, status,
                 seeders, leechers, created_at, updated_at, work_id, parsed_title, year, season, episode,
                 resolution, source, video_codec, audio_codec, languages, release_group, parse_version, health)
               SELECT gen_random_uuid(), replace(w.title, ' ', '.') || '.' || w.year || '.' || r.res || '.' || r.codec,
                 encode(sha256(g::text::bytea), 'hex')::varchar(40),
                 'magnet:?xt=urn:btih:' || encode(sha256(g::text::bytea), 'hex')::varchar(40), 1000000 + g * 997,
                 CASE WHEN w.kind = 'show' THEN 'tv' ELSE 'movies' END, '[]', 'approved', r.seeders, r.seeders % 50,
                 now() - (g || ' seconds')::interval, now(), w.id, w.title, w.year, w.season, w.episode, r.res,
                 'WEB-DL', r.codec, 'aac', CASE WHEN g % 5 = 0 THEN 'fr' END, 'GRP', 1,
                 CASE WHEN r.seeders = 0 THEN 0 ELSE least(1000, round(100 * log(2, 1 + r.seeders)))::int END
               FROM generate_series(0, $1 - 1) g
               CROSS JOIN LATERAL (SELECT ($3::text[])[1 + g % 4] AS res, ($4::text[])[1 + g % 3] AS codec,
                 floor(power(random() + 0 * g, 6) * 2000)::int AS seeders,
                 floor(power(random() + 0 * g, 2) * $2)::int AS widx) r
               JOIN w ON w.i = r.widx""",
            rows,
            works,
            RESOLUTIONS,
            CODECS,
        )
        await connection.execute(
            """UPDATE catalog_works cw SET release_count = s.n, health = s.h, best_entry_id = s.best
               FROM (SELECT work_id, count(*) AS n, max(health) AS h,
                       (array_agg(id ORDER BY health DESC, seeders DESC, id))[1] AS best
                     FROM catalog_entries GROUP BY work_id) s
               WHERE s.work_id = cw.id"""
        )
    finally:
        await connection.close()


async def sqlite_load(sessions: Any, words: list[str], works: int, rows: int, seed: int = 7) -> int:
    """SQLite: the same kind of data as ``sql_load``. Rows are the importer's (``normalise_row``, the
    parsed columns and health of ``work_service.parsed_rows``, the work rows of ``assign_works``, the
    stats of ``refresh_works``; the FTS5 tables are filled by the migrations' triggers), with each
    name's parse built from its work instead of guessit, inserted with plain executemany.

    Show names carry ``SxxEyy`` and French ones ``FRENCH``, so the names say what their columns say.
    Returns the number of works.
    """
    from torrent_streamer.catalog import work_repository
    from torrent_streamer.catalog.importer import BATCH_SIZE, normalise_row
    from torrent_streamer.catalog.parsing import ParsedRelease, title_key

    rng = random.Random(seed)
    made: dict[str, ParsedRelease] = {}
    while len(made) < works:  # distinct work keys, as grouping would leave them
        g = len(made)
        title = " ".join(w.capitalize() for w in (words[int(rng.random() ** 3 * len(words))] for _ in range(2 + g % 3)))
        show = g % 4 == 0
        work = ParsedRelease(
            title=title,
            title_key=title_key(title),
            kind="show" if show else "movie",
            year=1950 + g % 75,
            season=1 + g % 8 if show else None,
            episode=1 + g % 12 if show else None,
        )
        made.setdefault(work.work_key, work)
    pool = list(made.values())
    now = Clock().now()
    work_rows = [work_repository.work_row(p, now) for p in pool]  # as assign_works inserts them
    async with sessions() as session:  # plain executemany: an upsert runs one statement a row here
        for start in range(0, len(work_rows), BATCH_SIZE):
            await session.execute(sa.insert(CatalogWork.__table__), work_rows[start : start + BATCH_SIZE])
        await session.commit()
    for start in range(0, rows, BATCH_SIZE):
        batch: list[dict[str, Any]] = []
        parsed: list[ParsedRelease] = []
        for g in range(start, min(rows, start + BATCH_SIZE)):
            w = int(rng.random() ** 2 * len(pool))
            work = pool[w]
            res, codec, french = RESOLUTIONS[g % 4], CODECS[g % 3], g % 5 == 0
            seeders = int(rng.random() ** 6 * 2000)
            episode = f".S{work.season:02d}E{work.episode:02d}" if work.kind == "show" else ""
            name = f"{work.title.replace(' ', '.')}.{work.year}{episode}.{res}{'.FRENCH' if french else ''}.{codec}"
            raw = {
                "infohash": hashlib.sha1(str(g).encode()).hexdigest(),  # noqa: S324 - an id, not a digest
                "name": name,
                "size_bytes": 1_000_000 + g * 997,
                "created_unix": int(now.timestamp()) - g,
                "seeders": seeders,
                "leechers": seeders % 50,
            }
            row = normalise_row(raw, now)
            row["work_id"] = work_rows[w]["id"]
            batch.append(row)
            parsed.append(
                dataclasses.replace(
                    work,
                    resolution=res,
                    source="WEB-DL",
                    video_codec=codec,
                    audio_codec="aac",
                    languages=("fr",) if french else (),
                    group="GRP",
                )
            )
        parses = iter(parsed)
        work_service.parsed_rows(batch, lambda _name, parses=parses: next(parses))  # columns and health
        async with sessions() as session:  # the FTS5 tables are filled by the migrations' triggers
            await session.execute(sa.insert(CatalogEntry.__table__), batch)
            await session.commit()
        if start % 100_000 == 0:
            print(f"  sqlite load: {start + len(batch)} rows", flush=True)
    async with sessions() as session:  # counts, best health, best release and title, as each import batch does
        await work_repository.refresh_works(session, [r["id"] for r in work_rows])
        await session.commit()
    return len(pool)


async def _time_works(
    session: Any, key: bytes, per_query: dict[str, list[float]], latencies: dict[str, list[float]], *, counted: bool
) -> None:
    """One pass over the works mix: the search, its second page when there is one, and the releases of
    the first work (health order, then by resolution)."""
    profile = CHROMIUM
    for params in WORK_MIX:
        t0 = time.perf_counter()
        page = await work_service.search_works(session, WorkSearchParams(**params), cursor_key=key, profile=profile)
        timings = [("works " + str(params), (time.perf_counter() - t0) * 1000)]
        if page.next_cursor:
            t0 = time.perf_counter()
            more = WorkSearchParams(**params, cursor=page.next_cursor)
            await work_service.search_works(session, more, cursor_key=key, profile=profile)
            timings.append(("works page 2 " + str(params), (time.perf_counter() - t0) * 1000))
        if page.items:
            for sort in ("health", "resolution"):
                t0 = time.perf_counter()
                listing = ReleaseListParams(sort=sort)
                await work_service.list_releases(session, page.items[0].id, listing, cursor_key=key, profile=profile)
                timings.append((f"releases sort={sort}", (time.perf_counter() - t0) * 1000))
        await session.rollback()
        if counted:
            for name, ms in timings:
                per_query.setdefault(name, []).append(ms)
                latencies["search"].append(ms)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run_one(
    kind: str,
    csv_path: Path,
    rows: int,
    rounds: int,
    workdir: Path,
    keep: str | None = None,
    load: str = "import",
    works: int = 200_000,
) -> dict[str, Any]:
    """Import (unless ``keep`` names an existing database or SQLite file) and time the query mix."""
    reuse = keep is not None and await _exists(kind, keep)
    if kind == "postgres":
        url = await pg_database(keep or "ts_bench_catalog", create=not reuse)
    else:
        url = f"sqlite+aiosqlite:///{keep or workdir / 'b.db'}"
    per_query: dict[str, list[float]] = {}
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url, pool_size=2)
    sessions = create_sessionmaker(engine)
    started = time.perf_counter()
    imported = rows
    if not reuse and load == "sql" and kind == "postgres":
        await sql_load(url, vocabulary(random.Random(7)), works, rows)
    elif not reuse and load == "sql":
        made = await sqlite_load(sessions, vocabulary(random.Random(7)), works, rows)
        print(f"  sqlite load: {rows} releases, {made} works in {time.perf_counter() - started:.0f} s", flush=True)
    elif not reuse:
        imported = (await import_file(sessions, csv_path, "csv", now=Clock().now())).imported
    import_seconds = time.perf_counter() - started
    await vacuum_analyze(engine)
    if kind == "sqlite":
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA optimize")
    key, box = cursor_key(secrets.token_urlsafe(32)), SecretBox(new_encryption_key_entry())
    latencies: dict[str, list[float]] = {"search": [], "reference": []}
    async with sessions() as session:
        some_id = await session.scalar(select(CatalogEntry.id).limit(1))
        for round_no in range(rounds + 1):  # round 0 warms caches and is not counted
            for params in QUERY_MIX:
                t0 = time.perf_counter()
                await service.search(session, SearchParams(**params), cursor_key=key, torznab=None, box=box)
                t1 = time.perf_counter()
                await session.get(CatalogEntry, some_id, populate_existing=True)
                t2 = time.perf_counter()
                if round_no:
                    per_query.setdefault(str(params), []).append((t1 - t0) * 1000)
                    latencies["search"].append((t1 - t0) * 1000)
                    latencies["reference"].append((t2 - t1) * 1000)
                await session.rollback()
            # the import parses and groups too (guessit), so both loads have works to search
            await _time_works(session, key, per_query, latencies, counted=round_no > 0)
    await engine.dispose()
    if kind == "postgres" and keep is None:
        await pg_database("ts_bench_catalog", drop=True)
    for name, values in per_query.items():
        print(f"  {kind} {name}: median {statistics.median(values):.1f} ms", flush=True)
    result: dict[str, Any] = {"db": kind, "rows": imported, "import_rows_per_s": 0 if reuse else rows / import_seconds}
    result["requests"] = len(latencies["search"])
    for name, values in latencies.items():
        result[name] = {p: percentile(values, p / 100) for p in (50, 95, 99)} | {"mean": statistics.mean(values)}
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", action="append", choices=["postgres", "sqlite"])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the query mix")
    parser.add_argument("--load", choices=["import", "sql"], default="import", help="sql: generated, parsed rows")
    parser.add_argument("--works", type=int, default=200_000, help="works for --load sql")
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help="keep the loaded database (PostgreSQL name or SQLite path) and reuse it when it exists",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "dump.csv"
        t0 = time.perf_counter()
        reusable = args.keep is not None and all([await _exists(k, args.keep) for k in args.db or ["postgres"]])
        if args.load == "import" and not reusable:
            generate(csv_path, args.rows)
        print(f"generated {args.rows} rows in {time.perf_counter() - t0:.1f}s", flush=True)
        print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
        print(
            "| database | rows | import rows/s | requests | p50 ms | p95 | p99 | reference (pk lookup) p50 / p95 ms |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for kind in args.db or ["postgres", "sqlite"]:
            r = await run_one(kind, csv_path, args.rows, args.rounds, workdir, args.keep, args.load, args.works)
            s, ref = r["search"], r["reference"]
            print(
                f"| {kind} | {r['rows']} | {r['import_rows_per_s']:.0f} | {r['requests']} | {s[50]:.1f} | {s[95]:.1f} "
                f"| {s[99]:.1f} "
                f"| {ref[50]:.2f} / {ref[95]:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
