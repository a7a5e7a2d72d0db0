"""The web player finds the real MP4 (``moov`` at the end) in the catalog and streams it from a libtorrent
seeder on loopback in Chromium: it plays (``currentTime`` advances), shows subtitles, seeks to 60 %."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest
from playwright.sync_api import Page, expect

from tests import support
from tests.e2e.app_support import sign_in as app_sign_in
from tests.e2e.browser import LiveServer, PageWatch, screenshot
from tests.e2e.browser_accounts import Account, make_account, services
from tests.e2e.test_panel_browser import sign_in
from tests.engine.swarm import Media, Seeder
from torrent_streamer.catalog import service as catalog_service
from torrent_streamer.catalog.models import Category
from torrent_streamer.catalog.schemas import CatalogEntryCreate

pytestmark = [pytest.mark.browser, pytest.mark.engine]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "media"
PIECE = 16 * 1024


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {
        "engine": "libtorrent",
        "engine_listen_interfaces": f"127.0.0.1:{support.free_port()}",
        "engine_allow_private_networks": True,  # the seeder is on loopback
        "engine_enable_dht": False,
        "engine_enable_utp": False,
    }


def fixture_media(root: Path) -> Media:
    """A torrent of the committed test MP4 and its SRT, built with libtorrent."""
    name = "Sample"
    (root / name).mkdir(parents=True)
    files: dict[str, bytes] = {}
    for file_name in ("sample.mp4", "sample.srt"):
        shutil.copyfile(FIXTURES / file_name, root / name / file_name)
        files[file_name] = (FIXTURES / file_name).read_bytes()
    entries = [lt.create_file_entry(f"{name}/{rel}", len(data)) for rel, data in files.items()]
    creator = lt.create_torrent(entries, PIECE, lt.create_torrent.v1_only)
    lt.set_piece_hashes(creator, str(root))
    torrent = bytes(lt.bencode(creator.generate()))
    info = lt.torrent_info(torrent)
    return Media(root, name, files, torrent, str(info.info_hashes().v1))


@pytest.fixture
def seeder(tmp_path: Path) -> Iterator[tuple[Media, Seeder]]:
    media = fixture_media(tmp_path / "seed")
    seeding = Seeder(media)
    try:
        yield media, seeding
    finally:
        seeding.close()


async def approved_catalog_entry(server: LiveServer, account: Account, title: str, magnet: str) -> None:
    data = CatalogEntryCreate(title=title, magnet=magnet, size_bytes=483_972, category=Category.movies)
    actor = catalog_service.Actor(user_id=account.user_id)
    async with services(server).sessionmaker() as session:
        entry = await catalog_service.submit(session, data, actor=actor, now=server.clock.now())
        await catalog_service.moderate(session, entry.id, "approve", actor=actor, now=server.clock.now(), note=None)
        await session.commit()


def test_player_searches_adds_plays_and_seeks(
    server: LiveServer, watched_page: tuple[Page, PageWatch], seeder: tuple[Media, Seeder]
) -> None:
    page, watch = watched_page
    media, seeding = seeder
    account = make_account(server, "user")
    magnet = f"magnet:?xt=urn:btih:{media.info_hash}&dn=Sample&x.pe=127.0.0.1:{seeding.port}"
    server.run(approved_catalog_entry(server, account, "Sample test pattern 320x240", magnet))
    page.goto("/app")
    app_sign_in(page, account.email, account.password)
    page.get_by_role("searchbox", name="Title").fill("test pattern")
    page.get_by_role("button", name="Search").click()
    work = page.locator("#results li.work", has_text="Sample test pattern")  # the work parsed from the name
    work.get_by_role("button", name="Sample test pattern", exact=True).click()
    result = work.locator("li.release", has_text="Sample test pattern 320x240")
    expect(result).to_be_visible()
    screenshot(page, "player-search")
    result.get_by_role("button", name="Add", exact=True).click()
    play = page.locator("#library-list li", has_text="Sample").get_by_role("button", name="Play")
    expect(play).to_be_visible(timeout=60_000)
    play.click()

    page.wait_for_function("() => document.getElementById('video').currentTime > 1.5", timeout=60_000)
    video_src = page.locator("#video").evaluate("v => v.currentSrc")
    assert "/api/v1/stream/" in video_src
    track = page.locator("#video track")
    assert "/api/v1/stream/" in track.evaluate("t => t.src")  # a signed WebVTT URL from /playback
    page.wait_for_function("() => document.getElementById('video').textTracks[0].cues.length === 8", timeout=10_000)
    screenshot(page, "player-playing")

    duration = page.locator("#video").evaluate("v => v.duration")
    assert 39 < duration < 41
    page.locator("#video").evaluate("v => { v.currentTime = v.duration * 0.6; }")
    page.wait_for_function(
        "() => { const v = document.getElementById('video'); return v.currentTime > v.duration * 0.6 + 1.5; }",
        timeout=60_000,
    )
    assert page.locator("#video").evaluate("v => v.paused") is False
    assert page.locator("#video").evaluate("v => v.error") is None
    screenshot(page, "player-after-seek")

    page.locator("#video").evaluate("v => v.pause()")
    expect(page.get_by_role("status")).to_contain_text("saved")
    with server.http() as http:
        token = http.post("/api/v1/auth/login", json={"email": account.email, "password": account.password}).json()
        history = http.get("/api/v1/me/history", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert [item["torrent_name"] for item in history["items"]] == ["Sample"]
    assert history["items"][0]["position_seconds"] > duration * 0.6
    watch.assert_clean()


def test_admin_sees_the_torrent_and_blocks_it(
    server: LiveServer, watched_page: tuple[Page, PageWatch], seeder: tuple[Media, Seeder]
) -> None:
    page, watch = watched_page
    media, seeding = seeder
    viewer = make_account(server, "user")
    with server.http() as http:
        token = http.post("/api/v1/auth/login", json={"email": viewer.email, "password": viewer.password}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        magnet = f"magnet:?xt=urn:btih:{media.info_hash}&dn=Sample&x.pe=127.0.0.1:{seeding.port}"
        added = http.post("/api/v1/torrents", json={"magnet": magnet}, headers=headers)
        assert added.status_code == 201, added.text
    admin = make_account(server, "admin")
    sign_in(page, server, admin, start="/admin/torrents")
    row = page.locator(f'tr[data-info-hash="{media.info_hash}"]')
    expect(row).to_contain_text("Sample")
    # The count comes from the engine's batched status (refreshed every second), rendered once per
    # page: reload until the just-added torrent is counted (bounded).
    for _ in range(30):
        if page.locator("#active-torrents").inner_text().strip() == "1":
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#active-torrents")).to_have_text("1")
    # the counts agree with the listed rows (the page once said "Active torrents 9" over 20 rows)
    expect(page.locator("#engine-torrents")).to_have_text(str(page.locator("tr[data-info-hash]").count()))
    screenshot(page, "panel-torrents")
    page.get_by_label("Info-hash", exact=True).fill(media.info_hash)
    page.get_by_label("Reason", exact=True).fill("<script>alert('takedown')</script>")
    page.get_by_role("button", name="Block", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("blocked")
    assert watch.confirms == ["Block: are you sure?"]
    expect(page.locator(f'tr[data-info-hash="{media.info_hash}"]')).to_have_count(0)
    expect(page.get_by_role("cell", name="<script>alert('takedown')</script>")).to_be_visible()
    page.goto("/admin")
    expect(page.locator("#active-torrents")).to_have_text("0")
    screenshot(page, "panel-dashboard-engine")
    with server.http() as http:
        again = http.post("/api/v1/torrents", json={"magnet": magnet}, headers=headers)
        assert again.status_code in (403, 409, 451), again.text
    watch.assert_clean()
