"""Bulk import of catalog dumps: torrents-csv (``;``-separated) and JSON lines, upserted in batches.

Parsing is pure (``parse_line``); bad rows are counted with their line number and reason.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import anyio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from torrent_streamer.catalog import repository, work_repository, work_service
from torrent_streamer.catalog.magnet import build_magnet
from torrent_streamer.catalog.models import EntryStatus
from torrent_streamer.catalog.parsing import ParsedRelease, parse_release
from torrent_streamer.catalog.query import clean_text, guess_category

BATCH_SIZE = 5000
MAX_REPORTED_ERRORS = 1000
CSV_FIELDS = ("infohash", "name", "size_bytes", "created_unix", "seeders", "leechers", "completed", "scraped_date")
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_MAX_INT = 2**62
_MAX_PEERS = 2**31 - 1


class RowError(ValueError):
    """One input row cannot be imported (the reason is shown to the operator)."""


@dataclass
class ImportReport:
    imported: int = 0
    rejected: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line, reason))


def _int(value: Any, name: str, maximum: int) -> int:
    if isinstance(value, bool):
        raise RowError(f"{name} is not an integer")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise RowError(f"{name} is not an integer") from None
    if not 0 <= number <= maximum:
        raise RowError(f"{name} is out of range")
    return number


def normalise_row(raw: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A validated ``catalog_entries`` row from one input record; raises ``RowError``."""
    info_hash = str(raw.get("infohash") or "").strip()
    if not _HEX40.fullmatch(info_hash):
        raise RowError("infohash is not 40 hex characters")
    title = clean_text(str(raw.get("name") or "")).strip()
    if not title:
        raise RowError("name is empty")
    if len(title) > 300:
        raise RowError("name is longer than 300 characters")
    created_unix = _int(raw.get("created_unix", 0) or 0, "created_unix", 2**40)
    created = datetime.fromtimestamp(created_unix, UTC) if created_unix else now
    info_hash = info_hash.lower()
    return {
        "title": title,
        "description": None,
        "info_hash_v1": info_hash,
        "info_hash_v2": None,
        "magnet": build_magnet(info_hash, title),
        "size_bytes": _int(raw.get("size_bytes"), "size_bytes", _MAX_INT),
        "category": guess_category(title),
        "tags": [],
        "uploader_id": None,
        "status": EntryStatus.approved.value,
        "seeders": _int(raw.get("seeders", 0) or 0, "seeders", _MAX_PEERS),
        "leechers": _int(raw.get("leechers", 0) or 0, "leechers", _MAX_PEERS),
        "created_at": created,
        "updated_at": now,
    }


def parse_line(text: str, fmt: str) -> dict[str, Any] | None:
    """One record of a CSV or JSON-lines dump; ``None`` for blank lines and the CSV header."""
    if not text.strip():
        return None
    if fmt == "jsonl":
        try:
            record = json.loads(text)
        except ValueError:
            raise RowError("not valid JSON") from None
        if not isinstance(record, dict):
            raise RowError("not a JSON object")
        return record
    try:
        fields = next(csv.reader([text], delimiter=";", quotechar='"', strict=True))
    except csv.Error as exc:
        raise RowError(f"malformed CSV ({exc})") from None
    if fields and fields[0].strip().lower() == "infohash":
        return None
    if len(fields) != len(CSV_FIELDS):
        raise RowError(f"expected {len(CSV_FIELDS)} fields, got {len(fields)}")
    return dict(zip(CSV_FIELDS, fields, strict=True))


def read_rows(stream: TextIO, fmt: str, report: ImportReport, now: datetime) -> Iterator[dict[str, Any]]:
    for number, text in enumerate(stream, start=1):
        try:
            record = parse_line(text.rstrip("\r\n"), fmt)
            if record is not None:
                yield normalise_row(record, now)
        except RowError as exc:
            report.reject(number, str(exc))


def detect_format(path: Path) -> str:
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"


async def import_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    path: Path,
    fmt: str,
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    parse: Callable[[str], ParsedRelease] = parse_release,
) -> ImportReport:
    """Upsert every good row of ``path``; one transaction per batch, so a re-run resumes cleanly.

    The file is read in a worker thread, a batch at a time, so the event loop never blocks on it.
    """
    report = ImportReport()
    stream = await anyio.to_thread.run_sync(lambda: path.open(encoding="utf-8", errors="replace", newline=""))
    try:
        rows = read_rows(stream, fmt, report, now)

        def next_batch() -> tuple[list[dict[str, Any]], list[ParsedRelease], int]:
            batch = list({row["info_hash_v1"]: row for row in islice(rows, batch_size)}.values())  # last wins
            parsed = work_service.parsed_rows(batch, parse)  # guessit: the slow part, off the event loop
            return batch, parsed, stream.buffer.tell()  # type: ignore[attr-defined]  # a BufferedReader

        while True:
            batch, parsed, position = await anyio.to_thread.run_sync(next_batch)
            if not batch:
                break
            async with sessionmaker() as session:
                for row, work_id in zip(batch, await work_repository.assign_works(session, parsed, now), strict=True):
                    row["work_id"] = work_id
                await repository.upsert_imported(session, batch)
                await work_repository.refresh_works(session, [row["work_id"] for row in batch])
                await session.commit()
            report.imported += len(batch)
            if progress is not None:
                progress(position)
    finally:
        await anyio.to_thread.run_sync(stream.close)
    return report


async def vacuum_analyze(engine: AsyncEngine) -> None:
    """After a bulk load: fold the GIN pending lists into the indexes and refresh planner statistics
    (PostgreSQL), or refresh statistics (SQLite). Autovacuum would get there, later."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        if connection.dialect.name == "postgresql":
            await autocommit.execute(sa.text("VACUUM (ANALYZE) catalog_entries"))
            await autocommit.execute(sa.text("VACUUM (ANALYZE) catalog_works"))
        else:
            await autocommit.execute(sa.text("ANALYZE"))
