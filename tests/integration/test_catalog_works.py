"""Works and releases on the real database: grouping by parsed title, accent-free matching, ranking by
relevance × swarm health (dead swarms sink), filters, keyset paging, and the HTTP contract."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from tests import support
from tests.auth_helpers import register_and_login
from tests.integration.catalog_helpers import CURSOR_KEY, EPOCH, add_entries, cli_environment, db_session, entry
from torrent_streamer.catalog import work_service
from torrent_streamer.catalog.errors import InvalidCursor
from torrent_streamer.catalog.importer import import_file
from torrent_streamer.catalog.models import CatalogWork, EntryStatus
from torrent_streamer.catalog.playable import CHROMIUM, ClientProfile
from torrent_streamer.catalog.schemas import ReleaseListParams, ReleasePage, WorkPage, WorkSearchParams
from torrent_streamer.cli import app
from torrent_streamer.core.db import create_sessionmaker

RELEASES = [
    ("Amélie.2001.1080p.BluRay.DD5.1.x264-FOO", 120, 4),
    ("AMELIE.2001.720p.WEBRip.x264.AAC-BAR", 0, 0),  # dead swarm
    ("Amelie.2001.2160p.WEB-DL.DDP5.1.HEVC-BAZ", 30, 2),
    ("Les.Misérables.2012.FRENCH.1080p.BluRay.x264-GRP", 15, 1),
    ("The.Bear.S02E03.1080p.WEB.h264-ETHEL", 300, 20),
    ("The.Bear.S02E03.720p.HDTV.x264-KILLERS", 2, 0),
    ("The.Bear.S02E04.1080p.WEB.h264-ETHEL", 250, 10),
    ("The.Bear.S02.COMPLETE.1080p.WEB.H264-GRP", 80, 9),
    ("[SubsPlease] Frieren - 12 (1080p) [ABCD1234].mkv", 60, 3),
    ("Interstellar.2014.1080p.BluRay.x264-SPARKS", 400, 10),
    ("Interstellar.2014.720p.BluRay.x264-DEAD", 0, 0),
    ("Interstellar.Wars.1999.DVDRip.XviD-OLD", 0, 0),  # another work, dead: sinks below the healthy one
    ("Kin-dza-dza.1986.DVDRip.RUS-GRP", 5, 0),
]


async def works(session: AsyncSession, profile: ClientProfile = CHROMIUM, **params: Any) -> WorkPage:
    return await work_service.search_works(session, WorkSearchParams(**params), cursor_key=CURSOR_KEY, profile=profile)


async def releases(session: AsyncSession, work_id: Any, **params: Any) -> ReleasePage:
    return await work_service.list_releases(
        session, work_id, ReleaseListParams(**params), cursor_key=CURSOR_KEY, profile=CHROMIUM
    )


@pytest.fixture
async def session(clean_db: str) -> Any:
    async with db_session(clean_db) as session:
        await add_entries(session, *(entry(t, seeders=s, leechers=le) for t, s, le in RELEASES))
        await add_entries(session, entry("Amelie.2001.480p.DVDRip-PENDING", status=EntryStatus.pending, seeders=9))
        while await work_service.backfill(session, EPOCH, batch=5):  # the backfill path parses and groups
            await session.commit()
        yield session


async def test_releases_of_one_work_group_and_accents_do_not_matter(session: AsyncSession) -> None:
    for query in ("amelie", "AMÉLIE", "Amélie 2001"):
        page = await works(session, q=query)
        assert [(w.title, w.year, w.kind, w.release_count) for w in page.items] == [("Amélie", 2001, "movie", 3)]
    [work] = (await works(session, q="amelie")).items
    assert work.best_release is not None
    assert work.best_release.name.startswith("Amélie.2001.1080p")
    assert (await works(session, q="miserables")).items[0].title == "Les Misérables"


async def test_shows_group_by_season_and_episode_and_anime_numbering(session: AsyncSession) -> None:
    page = await works(session, q="the bear")
    shape = sorted((w.season, w.episode or 0, w.release_count) for w in page.items)
    assert shape == [(2, 0, 1), (2, 3, 2), (2, 4, 1)]  # the season pack is its own work
    [e3] = (await works(session, q="the bear", season=2, episode=3)).items
    assert (e3.kind, e3.release_count) == ("show", 2)
    [anime] = (await works(session, q="frieren", episode=12)).items
    assert (anime.title, anime.season, anime.episode) == ("Frieren", None, 12)


async def test_healthy_release_ranks_above_a_dead_one_and_dead_works_sink(session: AsyncSession) -> None:
    [work] = (await works(session, q="amelie")).items
    names = [r.name for r in (await releases(session, work.id)).items]
    assert names[-1] == "AMELIE.2001.720p.WEBRip.x264.AAC-BAR"  # the dead swarm is last
    assert names[0].startswith("Amélie.2001.1080p")
    page = await works(session, q="interstellar")
    assert [w.title for w in page.items] == ["Interstellar", "Interstellar Wars"]
    best = page.items[0].best_release
    assert best is not None
    assert best.seeders == 400


async def test_release_sorts_and_filters(session: AsyncSession) -> None:
    [work] = (await works(session, q="amelie")).items
    by_resolution = [r.resolution for r in (await releases(session, work.id, sort="resolution")).items]
    assert by_resolution == ["2160p", "1080p", "720p"]
    assert [r.resolution for r in (await releases(session, work.id, codec="hevc")).items] == ["2160p"]
    assert [r.resolution for r in (await releases(session, work.id, resolution="720p")).items] == ["720p"]
    assert (await works(session, q="amelie", codec="av1")).items == []
    assert [w.title for w in (await works(session, q="amelie", resolution="2160p")).items] == ["Amélie"]
    assert [w.title for w in (await works(session, q="miserables", language="fr")).items] == ["Les Misérables"]
    assert (await works(session, q="miserables", language="de")).items == []
    assert (await works(session, q="amelie", year=1999)).items == []
    assert [w.year for w in (await works(session, q="amelie", year=2001)).items] == [2001]


async def test_works_and_releases_page_by_cursor_without_repeats(session: AsyncSession) -> None:
    seen: list[str] = []
    page = await works(session, q="the", limit=1)  # "the bear" works, one per page
    while True:
        seen += [str(w.id) for w in page.items]
        if page.next_cursor is None:
            break
        page = await works(session, q="the", limit=1, cursor=page.next_cursor)
    assert len(seen) == len(set(seen)) == 3
    [work] = (await works(session, q="amelie")).items
    first = await releases(session, work.id, limit=2)
    assert first.next_cursor is not None
    rest = await releases(session, work.id, limit=2, cursor=first.next_cursor)
    assert len({r.id for r in first.items + rest.items}) == 3
    assert rest.next_cursor is None
    with pytest.raises(InvalidCursor):
        await releases(session, work.id, limit=2, sort="size", cursor=first.next_cursor)  # another query
    with pytest.raises(InvalidCursor):
        await works(session, q="amelie", cursor=first.next_cursor)


async def test_a_typo_still_finds_the_work(session: AsyncSession) -> None:
    assert next(w.title for w in (await works(session, q="interstelar")).items) == "Interstellar"


async def test_pending_releases_do_not_count(session: AsyncSession) -> None:
    [work] = (await works(session, q="amelie")).items
    assert work.release_count == 3
    assert all("PENDING" not in r.name for r in (await releases(session, work.id)).items)


async def test_works_over_http_contract_permissions_and_playable(client: httpx.AsyncClient, clean_db: str) -> None:
    async with db_session(clean_db) as session:
        await add_entries(session, *(entry(t, seeders=s, leechers=le) for t, s, le in RELEASES[:3]))
        while await work_service.backfill(session, EPOCH):
            await session.commit()
    assert (await client.get("/api/v1/catalog/works", params={"q": "amelie"})).status_code == 401
    user = await register_and_login(client)
    found = await client.get("/api/v1/catalog/works", params={"q": "amelie"}, headers=user.headers)
    assert found.status_code == 200, found.text
    [work] = found.json()["items"]
    assert set(work) >= {"id", "title", "year", "kind", "release_count", "best_release", "playable"}
    assert work["playable"] == "remux"  # h264 in Matroska with AC-3 audio, on Chromium
    listed = await client.get(f"/api/v1/catalog/works/{work['id']}/releases", headers=user.headers)
    assert listed.status_code == 200
    release = listed.json()["items"][0]
    contract = {"id", "name", "resolution", "source", "video_codec", "hdr", "audio_codec", "audio_channels"}
    contract |= {"languages", "group", "season", "episode", "seeders", "leechers", "health_checked_at"}
    assert set(release) >= contract | {"size_bytes", "playable"}
    safari = {**user.headers, "user-agent": "Mozilla/5.0 (Macintosh) AppleWebKit/605 Version/17 Safari/605.1.15"}
    hevc = await client.get(f"/api/v1/catalog/works/{work['id']}/releases", params={"codec": "hevc"}, headers=safari)
    assert hevc.json()["items"][0]["playable"] == "remux"  # HEVC plays on Safari, Matroska does not
    chromium_hevc = await client.get(
        f"/api/v1/catalog/works/{work['id']}/releases", params={"codec": "hevc"}, headers=user.headers
    )
    assert chromium_hevc.json()["items"][0]["playable"] == "transcode"
    missing = await client.get(f"/api/v1/catalog/works/{secrets.token_hex(16)}/releases", headers=user.headers)
    assert missing.status_code == 404
    for bad in ({"q": "x", "resolution": "huge"}, {"q": "x", "year": 3000}, {"q": ""}, {"q": "x", "cursor": "zz"}):
        response = await client.get("/api/v1/catalog/works", params=bad, headers=user.headers)
        assert response.status_code in (400, 422), (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_import_parses_and_groups_and_a_reimport_keeps_one_work(clean_db: str, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    hashes = [secrets.token_hex(20) for _ in range(3)]
    names = ["Dune.2021.2160p.WEB-DL.DDP5.1.HDR.HEVC-A", "Dune.2021.1080p.BluRay.x264-B", "The.Bear.S02E03.720p.HDTV-C"]
    rows = [{"infohash": h, "name": n, "size_bytes": 5, "seeders": 3} for h, n in zip(hashes, names, strict=True)]
    dump.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    engine = support.engine_for(clean_db)
    try:
        for _ in range(2):  # a re-run updates in place: still two works, no duplicates
            await import_file(create_sessionmaker(engine), dump, "jsonl", now=EPOCH)
    finally:
        await engine.dispose()
    async with db_session(clean_db) as session:
        found = {w.title: w for w in (await session.execute(select(CatalogWork))).scalars()}
        assert {t: (w.kind, w.release_count) for t, w in found.items()} == {
            "Dune": ("movie", 2),
            "The Bear": ("show", 1),
        }
        [dune] = (await works(session, q="dune", resolution="2160p")).items
        [uhd] = (await releases(session, dune.id, resolution="2160p")).items
        assert (uhd.hdr, uhd.video_codec, uhd.audio_codec, uhd.audio_channels) == ("hdr10", "hevc", "eac3", "5.1")


def test_the_backfill_command_parses_old_rows(clean_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def seed() -> None:
        async with db_session(clean_db) as session:
            await add_entries(
                session, entry("Amélie.2001.1080p.BluRay.x264-FOO", seeders=50), entry("Amelie.2001.720p-BAR")
            )

    support.run(seed())
    cli_environment(monkeypatch, clean_db, tmp_path / "data")
    result = CliRunner().invoke(app, ["catalog", "backfill", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "parsed 2 entries" in result.output

    async def check() -> list[tuple[str, int]]:
        async with db_session(clean_db) as session:
            return [(w.title, w.release_count) for w in (await session.execute(select(CatalogWork))).scalars()]

    assert support.run(check()) == [("Amélie", 2)]
