"""Catalog search on the real database: relevance (exact, prefix, typo), filters, sort, keyset
cursors (stable under inserts, tamper-proof) and hostile queries returning ordinary results."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.catalog_helpers import BOX, CURSOR_KEY, add_entries, db_session, entry
from torrent_streamer.catalog import repository, service
from torrent_streamer.catalog.errors import InvalidCursor
from torrent_streamer.catalog.models import CatalogEntry, Category, EntryStatus
from torrent_streamer.catalog.schemas import SearchPage, SearchParams


async def search(session: AsyncSession, **params: Any) -> SearchPage:
    return await service.search(session, SearchParams(**params), cursor_key=CURSOR_KEY, torznab=None, box=BOX)


def titles(page: SearchPage) -> list[str]:
    return [item.title for item in page.items]


@pytest.fixture
async def session(clean_db: str) -> Any:
    async with db_session(clean_db) as session:
        await add_entries(
            session,
            entry("Interstellar.2014.1080p.BluRay.x264-SPARKS", seeders=400, minutes=1),
            entry("Interstellar (2014) Making Of Documentary", seeders=5, minutes=2, size_bytes=300_000_000),
            entry("International Space Station Tour", seeders=50, minutes=3, category=Category.tv),
            entry("Inception.2010.720p.WEB-DL", seeders=90, minutes=4),
            entry("Interstellar Soundtrack FLAC", seeders=20, minutes=5, category=Category.music),
            entry("Interstellar leaked pending copy", status=EntryStatus.pending, seeders=999),
            entry("Interstellar removed copy", status=EntryStatus.removed, seeders=999),
        )
        yield session


async def test_exact_title_words_rank_first_and_only_approved_entries_appear(session: AsyncSession) -> None:
    page = await search(session, q="interstellar")
    assert set(titles(page)) == {
        "Interstellar.2014.1080p.BluRay.x264-SPARKS",
        "Interstellar (2014) Making Of Documentary",
        "Interstellar Soundtrack FLAC",
    }
    assert titles(await search(session, q="Inception 2010"))[0] == "Inception.2010.720p.WEB-DL"
    best = titles(await search(session, q="interstellar 2014 1080p"))
    assert best[0] == "Interstellar.2014.1080p.BluRay.x264-SPARKS"


async def test_prefix_matches_the_last_word_while_typing(session: AsyncSession) -> None:
    assert "Interstellar Soundtrack FLAC" in titles(await search(session, q="interstellar sound"))
    assert "Inception.2010.720p.WEB-DL" in titles(await search(session, q="incep"))


async def test_a_typo_still_finds_the_title(session: AsyncSession) -> None:
    found = titles(await search(session, q="interstelar"))
    assert "Interstellar.2014.1080p.BluRay.x264-SPARKS" in found
    assert "International Space Station Tour" not in found
    assert "Inception.2010.720p.WEB-DL" in titles(await search(session, q="inceptoin"))


async def test_filters_by_category_and_size(session: AsyncSession) -> None:
    assert titles(await search(session, q="interstellar", category="music")) == ["Interstellar Soundtrack FLAC"]
    small = titles(await search(session, q="interstellar", max_size=500_000_000))
    assert small == ["Interstellar (2014) Making Of Documentary"]
    large = titles(await search(session, q="interstellar", min_size=500_000_000, category="movies"))
    assert large == ["Interstellar.2014.1080p.BluRay.x264-SPARKS"]


async def test_sort_by_seeders_and_newest(session: AsyncSession) -> None:
    by_seeders = await search(session, q="interstellar", sort="seeders")
    assert [item.seeders for item in by_seeders.items] == [400, 20, 5]
    newest = titles(await search(session, q="interstellar", sort="newest"))
    assert newest[0] == "Interstellar Soundtrack FLAC"


@pytest.mark.parametrize("sort", ["relevance", "seeders", "newest"])
async def test_keyset_pages_are_complete_and_stable_under_inserts(clean_db: str, sort: str) -> None:
    async with db_session(clean_db) as session:
        originals = await add_entries(
            session,
            *(entry(f"Galaxy Quest part {i} {'extra ' * (i % 4)}", seeders=i % 7, minutes=i % 5) for i in range(25)),
        )
        seen: list[str] = []
        page = await search(session, q="galaxy quest", sort=sort, limit=10)
        seen += [str(item.id) for item in page.items]
        round_no = 0
        while page.next_cursor is not None:
            round_no += 1  # new entries that outrank everything arrive between pages
            await add_entries(session, entry(f"Galaxy Quest new {round_no}", seeders=99, minutes=99))
            page = await search(session, q="galaxy quest", sort=sort, limit=10, cursor=page.next_cursor)
            seen += [str(item.id) for item in page.items]
    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert {str(e.id) for e in originals} <= set(seen), "a row that existed from the start was skipped"


async def test_tampered_or_foreign_cursors_are_refused(session: AsyncSession) -> None:
    page = await search(session, q="interstellar", limit=1)
    assert page.next_cursor is not None
    body, tag = page.next_cursor.split(".")
    with pytest.raises(InvalidCursor):
        await search(session, q="interstellar", limit=1, cursor=f"{body[:-2]}AA.{tag}")
    with pytest.raises(InvalidCursor):
        await search(session, q="inception", limit=1, cursor=page.next_cursor)
    with pytest.raises(InvalidCursor):
        await search(session, q="interstellar", limit=1, sort="seeders", cursor=page.next_cursor)


HOSTILE = [
    "'; DROP TABLE catalog_entries; --",
    '" OR 1=1 --',
    "interstellar' OR '1'='1",
    'NEAR("a" "b") AND * OR title:x',
    "interstellar:* & !x | (y",
    "-interstellar",
    '"unterminated',
    "%_%",
    "\x00\x01 interstellar \u202e",
    "ｉｎｔｅｒｓｔｅｌｌａｒ",
    "Ïntérstèllâr",
    "星际穿越 インターステラー",
    "🚀🌌 interstellar",
    "a\u0301\u0301\u0301",
    "\ufeff\u200b",
    "x" * 200,
]


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_and_odd_queries_return_ordinary_results(session: AsyncSession, query: str) -> None:
    page = await search(session, q=query)
    assert all(isinstance(item.title, str) for item in page.items)
    count = await session.scalar(select(func.count()).select_from(CatalogEntry))
    assert count == 7


async def test_unicode_titles_are_searchable(clean_db: str) -> None:
    async with db_session(clean_db) as session:
        await add_entries(session, entry("Amélie.2001.1080p"), entry("星际穿越 Interstellar 2014"))
        assert titles(await search(session, q="amélie")) == ["Amélie.2001.1080p"]
        assert titles(await search(session, q="星际穿越")) == ["星际穿越 Interstellar 2014"]


async def test_a_broad_query_orders_by_popularity_and_pages_stay_consistent(
    clean_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "BROAD_MATCHES", 10)
    async with db_session(clean_db) as session:
        await add_entries(session, *(entry(f"Common Word {i}", seeders=i) for i in range(15)))
        await add_entries(session, entry("Rare Title", seeders=3))
        first = await search(session, q="common word", limit=8)
        assert [item.seeders for item in first.items] == list(range(14, 6, -1))
        monkeypatch.setattr(repository, "BROAD_MATCHES", 1000)  # the cursor keeps the first page's mode
        second = await search(session, q="common word", limit=8, cursor=first.next_cursor)
        assert [item.seeders for item in second.items] == list(range(6, -1, -1))
        assert titles(await search(session, q="rare"))[0] == "Rare Title"


@pytest.mark.postgres_only
async def test_postgres_understands_websearch_syntax(session: AsyncSession) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("websearch syntax is PostgreSQL's")
    found = titles(await search(session, q="interstellar -soundtrack -documentary"))
    assert found == ["Interstellar.2014.1080p.BluRay.x264-SPARKS"]
    assert titles(await search(session, q='"making of"')) == ["Interstellar (2014) Making Of Documentary"]
    assert len(titles(await search(session, q="inception or soundtrack"))) == 2
