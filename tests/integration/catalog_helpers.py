"""Helpers for the catalog tests: a session on the per-run database and entry factories."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests import support
from torrent_streamer.catalog.cursor import cursor_key
from torrent_streamer.catalog.magnet import build_magnet
from torrent_streamer.catalog.models import CatalogEntry, Category, EntryStatus
from torrent_streamer.core.crypto import SecretBox
from torrent_streamer.core.db import create_sessionmaker

CURSOR_KEY = cursor_key(support.TEST_SECRET_KEY)
BOX = SecretBox(support.TEST_ENCRYPTION_KEYS)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@asynccontextmanager
async def db_session(url: str) -> AsyncIterator[AsyncSession]:
    engine = support.engine_for(url)
    try:
        async with create_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def entry(title: str, **overrides: Any) -> CatalogEntry:
    info_hash = secrets.token_hex(20)
    values: dict[str, Any] = {
        "title": title,
        "description": None,
        "info_hash_v1": info_hash,
        "magnet": build_magnet(info_hash, title),
        "size_bytes": 1_000_000_000,
        "category": Category.movies,
        "tags": [],
        "status": EntryStatus.approved,
        "seeders": 10,
        "leechers": 1,
        "created_at": EPOCH,
        "updated_at": EPOCH,
    }
    values.update(overrides)
    if "minutes" in values:
        values["created_at"] = EPOCH + timedelta(minutes=values.pop("minutes"))
    return CatalogEntry(**values)


async def add_entries(session: AsyncSession, *entries: CatalogEntry) -> list[CatalogEntry]:
    session.add_all(entries)
    await session.commit()
    return list(entries)


def cli_environment(monkeypatch: Any, url: str, data_dir: Any) -> None:
    """Settings for ``torrent-streamer catalog …`` run in-process against the per-run database."""
    from torrent_streamer.cli import app, register_domain_commands

    monkeypatch.setenv("TS_DATABASE_URL", url)
    monkeypatch.setenv("TS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TS_SECRET_KEY", support.TEST_SECRET_KEY)
    monkeypatch.setenv("TS_ENCRYPTION_KEYS", support.TEST_ENCRYPTION_KEYS)
    if not any(group.name == "catalog" for group in app.registered_groups):
        register_domain_commands()
