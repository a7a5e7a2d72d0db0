"""``torrent-streamer catalog …``: bulk import of catalog dumps with a progress bar and a report."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from sqlalchemy.exc import SQLAlchemyError

from torrent_streamer.catalog.importer import ImportReport, detect_format, import_file, vacuum_analyze
from torrent_streamer.core.clock import Clock
from torrent_streamer.core.config import Settings
from torrent_streamer.core.db import create_engine, create_sessionmaker

app = typer.Typer(no_args_is_help=True, help="Catalog administration (bulk import).")
console = Console(stderr=True)
SHOWN_ERRORS = 20


class DumpFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


async def run_import(
    settings: Settings, path: Path, fmt: str, batch_size: int, show_progress: bool, size: int
) -> ImportReport:
    engine = create_engine(settings.effective_database_url, pool_size=2)
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not show_progress,
        ) as progress:
            task = progress.add_task(f"importing {path.name}", total=size)
            report = await import_file(
                create_sessionmaker(engine),
                path,
                fmt,
                now=Clock().now(),
                batch_size=batch_size,
                progress=lambda done: progress.update(task, completed=done),
            )
        if report.imported:
            try:
                await vacuum_analyze(engine)
            except SQLAlchemyError:  # e.g. a role that may not VACUUM: autovacuum will catch up
                console.print("[yellow]could not VACUUM ANALYZE catalog_entries; autovacuum will[/yellow]")
        return report
    finally:
        await engine.dispose()


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The dump to load.")],
    fmt: Annotated[
        DumpFormat | None, typer.Option("--format", help="csv (torrents-csv layout) or jsonl; default: by extension.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000, help="Rows per transaction.")] = 5000,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Load a dump into the catalog (entries become approved; re-running updates, never duplicates)."""
    from torrent_streamer.core.cli_support import load_settings_or_exit

    settings = load_settings_or_exit()
    if settings.uses_embedded_database:
        from torrent_streamer.core import migrate

        migrate.upgrade(settings.effective_database_url)
    chosen = fmt.value if fmt is not None else detect_format(file)
    report = asyncio.run(run_import(settings, file, chosen, batch_size, progress, file.stat().st_size))
    console.print(f"[green]imported {report.imported} rows[/green], rejected {report.rejected}")
    for line, reason in report.errors[:SHOWN_ERRORS]:
        console.print(f"  line {line}: {reason}")
    if report.rejected > SHOWN_ERRORS:
        console.print(f"  … and {report.rejected - SHOWN_ERRORS} more")


async def run_backfill(settings: Settings, batch_size: int) -> int:
    """Parse every entry an older parser (or none) left, one transaction per batch; resumable."""
    from torrent_streamer.catalog import work_service

    engine = create_engine(settings.effective_database_url, pool_size=2)
    total = 0
    try:
        sessions = create_sessionmaker(engine)
        while True:
            async with sessions() as session:
                done = await work_service.backfill(session, Clock().now(), batch=batch_size)
                await session.commit()
            if not done:
                return total
            total += done
            console.print(f"parsed {total} entries", highlight=False)
    finally:
        await engine.dispose()


@app.command("backfill")
def backfill_command(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Entries per transaction.")] = 500,
) -> None:
    """Parse release names of entries stored before parsing existed (or by an older parser) into works."""
    from torrent_streamer.core.cli_support import load_settings_or_exit

    settings = load_settings_or_exit()
    if settings.uses_embedded_database:
        from torrent_streamer.core import migrate

        migrate.upgrade(settings.effective_database_url)
    console.print(f"[green]parsed {asyncio.run(run_backfill(settings, batch_size))} entries[/green]")
