"""``catalog import``: thousands of generated rows with bad lines mixed in, on the real database;
bad rows are counted with line numbers, a re-run is idempotent, moderators' decisions survive."""

from __future__ import annotations

import json
import random
import secrets
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests import support
from tests.integration.catalog_helpers import cli_environment, db_session
from torrent_streamer.catalog.importer import import_file
from torrent_streamer.catalog.models import CatalogEntry, EntryStatus
from torrent_streamer.cli import app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.core.db import create_sessionmaker

GOOD_ROWS = 3000
BAD_LINES = {
    "zz" * 20 + ";Bad hash;100;1600000000;1;1;0;0": "infohash",
    f"{'ab' * 20};;100;1600000000;1;1;0;0": "name is empty",
    f"{'cd' * 20};Negative size;-5;1600000000;1;1;0;0": "size_bytes",
    f"{'ef' * 20};Words for size;big;1600000000;1;1;0;0": "size_bytes",
    f"{'01' * 20};Too few fields;100": "expected 8 fields",
    f'{"02" * 20};"unterminated quote;100;1;1;1;0;0': "malformed CSV",
}


def write_csv(path: Path, seed: int, seeders: int = 5) -> tuple[list[str], dict[int, str]]:
    rng = random.Random(seed)
    hashes = [rng.randbytes(20).hex() for _ in range(GOOD_ROWS)]
    lines = ["infohash;name;size_bytes;created_unix;seeders;leechers;completed;scraped_date"]
    expected_bad: dict[int, str] = {}
    bad = list(BAD_LINES.items())
    for index, info_hash in enumerate(hashes):
        if index % 500 == 250:
            line, reason = bad[(index // 500) % len(bad)]
            lines.append(line)
            expected_bad[len(lines)] = reason
        name = f"Generated Title {index} {rng.choice(['1080p', 'S01E02', 'FLAC', 'epub'])}"
        lines.append(f"{info_hash};{name};{rng.randint(1, 10**10)};{1_600_000_000 + index};{seeders};2;0;0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return hashes, expected_bad


async def count_entries(url: str) -> int:
    async with db_session(url) as session:
        return int(await session.scalar(select(func.count()).select_from(CatalogEntry)) or 0)


async def test_csv_import_reports_bad_lines_and_is_idempotent(clean_db: str, tmp_path: Path) -> None:
    dump = tmp_path / "dump.csv"
    hashes, expected_bad = write_csv(dump, seed=1)
    engine = support.engine_for(clean_db)
    sessions = create_sessionmaker(engine)
    try:
        report = await import_file(sessions, dump, "csv", now=FrozenClock().now(), batch_size=700)
        assert report.imported == GOOD_ROWS
        assert report.rejected == len(expected_bad)
        assert {line for line, _ in report.errors} == set(expected_bad)
        for line, reason in report.errors:
            assert expected_bad[line] in reason
        assert await count_entries(clean_db) == GOOD_ROWS

        async with sessions() as session:  # a moderator removes one; a re-run must not resurrect it
            removed = await session.scalar(select(CatalogEntry).where(CatalogEntry.info_hash_v1 == hashes[7]))
            assert removed is not None
            assert removed.status is EntryStatus.approved
            removed.status = EntryStatus.removed
            await session.commit()

        write_csv(dump, seed=1, seeders=77)  # same rows, fresh swarm numbers
        again = await import_file(sessions, dump, "csv", now=FrozenClock().now(), batch_size=700)
        assert (again.imported, again.rejected) == (report.imported, report.rejected)
        assert await count_entries(clean_db) == GOOD_ROWS
        async with sessions() as session:
            assert await session.scalar(select(func.min(CatalogEntry.seeders))) == 77  # refreshed, not duplicated
            statuses = dict(
                (await session.execute(select(CatalogEntry.status, func.count()).group_by(CatalogEntry.status))).all()
            )
        assert statuses[EntryStatus.removed] == 1
    finally:
        await engine.dispose()


async def test_jsonl_import_with_duplicates_and_garbage(clean_db: str, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    info_hash = secrets.token_hex(20)
    records = [
        json.dumps({"infohash": info_hash, "name": "First name", "size_bytes": 10, "seeders": 1}),
        "not json at all",
        json.dumps(["a", "list"]),
        json.dumps({"infohash": info_hash.upper(), "name": "Second name", "size_bytes": 11, "seeders": 9}),
        json.dumps({"infohash": secrets.token_hex(20), "name": "x" * 301, "size_bytes": 1}),
        json.dumps({"infohash": secrets.token_hex(20), "name": "Bool size", "size_bytes": True}),
        "",
        json.dumps({"infohash": secrets.token_hex(20), "name": "Ünïcödé\u0000 name", "size_bytes": 5}),
    ]
    dump.write_text("\n".join(records) + "\n", encoding="utf-8")
    engine = support.engine_for(clean_db)
    try:
        report = await import_file(create_sessionmaker(engine), dump, "jsonl", now=FrozenClock().now())
    finally:
        await engine.dispose()
    assert (report.imported, report.rejected) == (2, 4)
    assert [line for line, _ in report.errors] == [2, 3, 5, 6]
    async with db_session(clean_db) as session:
        titles = set((await session.execute(select(CatalogEntry.title))).scalars())
    assert titles == {"Second name", "Ünïcödé name"}  # duplicate hash: the last row wins


def test_the_cli_command_imports_and_prints_a_report(
    clean_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dump = tmp_path / "dump.csv"
    write_csv(dump, seed=2)
    cli_environment(monkeypatch, clean_db, tmp_path / "data")
    result = CliRunner().invoke(app, ["catalog", "import", str(dump), "--no-progress", "--batch-size", "1000"])
    assert result.exit_code == 0, result.output
    assert f"imported {GOOD_ROWS} rows" in result.output
    assert "rejected 6" in result.output
    assert "line 252: infohash is not 40 hex characters" in result.output
    assert support.run(count_entries(clean_db)) == GOOD_ROWS
