"""The web app's search by work, in real Chromium at 390×844 and 1280×900: approved catalog entries whose names
parse to two works (a movie and a show episode) are found as two titles with their release counts, health
and playable badges; a title opens onto its releases, healthy first and the dead swarm last, re-sortable;
a filter narrows works and releases; Add puts a release's magnet in the library through the app's add flow
(the in-memory engine holds the sample video under that info-hash, so the row offers Play); a blank search
says what to type; a refused search (the real rate limit) reads as a sentence. axe-core on each screen,
screenshots beside it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import libtorrent as lt
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.app_support import FIXTURES, PASSWORD, PHONE, axe_check, sign_up, viewport, viewport_context
from tests.e2e.browser import LiveServer, PageWatch
from tests.e2e.browser_accounts import services
from tests.integration.catalog_helpers import entry
from torrent_streamer.catalog import work_service
from torrent_streamer.catalog.magnet import build_magnet
from torrent_streamer.engine.memory import MemoryEngine

pytestmark = [pytest.mark.browser]

HEALTHY = "Night.Train.2019.1080p.BluRay.x264.AAC-GRP"  # the one the engine can play
MOVIE = [  # (name, seeders, leechers, size in MiB)
    (HEALTHY, 120, 8, 2300),
    ("Night.Train.2019.2160p.WEB-DL.DDP5.1.HEVC-XYZ", 12, 1, 9100),
    ("Night.Train.2019.720p.WEBRip.x264-DEAD", 0, 0, 900),  # dead swarm
]
SHOW = [
    ("Night.Train.S01E02.1080p.WEB.h264-ETHEL", 40, 3, 1500),
    ("Night.Train.S01E02.FRENCH.720p.HDTV.x264-KILLERS", 2, 0, 700),
]
# a page is 20: 21 works of one title (one a year) and one work with 21 releases
MANY_WORKS = [(f"Harbor.Lights.{year}.1080p.WEB-DL.x264-GRP", 5, 0, 1000) for year in range(2000, 2021)]
MANY_RELEASES = [(f"Lantern.Bay.2015.1080p.WEB-DL.x264-G{i:02d}", 30 - i, 0, 1000) for i in range(21)]

__all__ = ["viewport", "viewport_context"]  # the shared fixtures (both viewports), re-used


async def seed_catalog(server: LiveServer, playable_hash: str) -> None:
    """Approved entries through the import-shaped path: rows, then the backfill parses and groups them."""
    now = server.clock.now()
    rows = []
    for name, seeders, leechers, mib in MOVIE + SHOW + MANY_WORKS + MANY_RELEASES:
        info_hash = playable_hash if name == HEALTHY else secrets.token_hex(20)
        # "checked 2 h ago" is read against the browser's clock; one release was never scraped
        checked = None if name.endswith("KILLERS") else datetime.now(UTC) - timedelta(hours=2)
        rows.append(
            entry(
                name,
                info_hash_v1=info_hash,
                magnet=build_magnet(info_hash, name),
                seeders=seeders,
                leechers=leechers,
                size_bytes=mib * 1024 * 1024,
                health_checked_at=checked,
            )
        )
    async with services(server).sessionmaker() as session:
        session.add_all(rows)
        await session.commit()
        while await work_service.backfill(session, now, batch=50):
            await session.commit()


def seed_engine(server: LiveServer) -> str:
    """The sample MP4 in the app's in-memory engine: a magnet of this hash then completes with a playable file."""
    engine = services(server).extras["engine"]
    assert isinstance(engine, MemoryEngine)
    torrent = engine.seed("Night Train 2019", [("Night.Train.2019.mp4", (FIXTURES / "sample.mp4").read_bytes())])
    return str(lt.torrent_info(torrent).info_hashes().v1)


def search(page: Page, query: str) -> None:
    page.get_by_role("searchbox", name="Title").fill(query)
    page.get_by_role("button", name="Search", exact=True).click()


def work(page: Page, title: str) -> Locator:
    return page.locator("#results li.work", has=page.get_by_role("button", name=title, exact=True))


def release_names(work_row: Locator) -> list[str]:
    return [name.strip() for name in work_row.locator("li.release .release-name").all_inner_texts()]


def test_search_by_work_releases_filters_and_add(
    server: LiveServer, watched_page: tuple[Page, PageWatch], viewport: dict[str, int]
) -> None:
    page, watch = watched_page
    tag = "phone" if viewport == PHONE else "desktop"
    server.run(seed_catalog(server, seed_engine(server)))
    email = f"works-{secrets.token_hex(4)}@example.test"
    sign_up(page, email)

    # a blank search says what to type, and marks the field
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-message")).to_contain_text("Type a title to search for")
    expect(page.get_by_role("searchbox", name="Title")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("searchbox", name="Title")).to_be_focused()

    # nothing found says so
    search(page, "zyxwvut")
    expect(page.locator("#search-message")).to_contain_text("Nothing found for “zyxwvut”")
    expect(page.locator("#results li")).to_have_count(0)

    # two works, not five rows: counts, best resolution, health and the badge in words
    search(page, "night train")
    expect(page.locator("#results li.work")).to_have_count(2)
    movie = work(page, "Night Train (2019)")
    show = work(page, "Night Train · S01E02")
    expect(movie.locator(".kind")).to_have_text("Movie")
    expect(movie.locator(".count")).to_have_text("3 releases")
    expect(movie.locator(".best")).to_have_text("Best: 1080p")
    expect(movie.locator(".facts .health").first).to_contain_text("Healthy · 120 seeders")
    expect(movie.locator(".facts .health").first).to_contain_text("checked 2 h ago")
    expect(movie.locator(".facts .badge")).to_have_text("Plays after remux")  # H.264 + AAC in Matroska
    expect(show.locator(".kind")).to_have_text("Show")
    expect(show.locator(".count")).to_have_text("2 releases")
    expect(page.locator("#search-message")).to_contain_text("2 titles for “night train”")
    axe_check(page, f"app-{tag}-works")

    # a work opens onto its releases: healthy first, the dead swarm last, each with health, badge and size
    opener = movie.get_by_role("button", name="Night Train (2019)", exact=True)
    opener.click()
    expect(opener).to_have_attribute("aria-expanded", "true")
    releases = movie.locator("li.release")
    expect(releases).to_have_count(3)
    assert release_names(movie) == [name for name, *_ in MOVIE]  # by health: 120, 12, 0 seeders
    dead = releases.nth(2)
    expect(dead.locator(".health")).to_contain_text("No seeders")
    expect(dead).to_have_attribute("data-health", "dead")
    expect(releases.nth(1).locator(".badge")).to_have_text("Needs transcoding")  # HEVC on Chromium
    expect(releases.nth(0).locator(".size")).to_have_text("2.2 GiB")
    expect(releases.nth(1).locator(".release-facts")).to_contain_text("2160p · WEB-DL · HEVC")
    axe_check(page, f"app-{tag}-work-releases")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # no sideways scrolling

    movie.get_by_label("Sort by").select_option("size")
    expect(movie.locator(".releases-note")).to_contain_text("by size")
    assert release_names(movie) == [MOVIE[1][0], MOVIE[0][0], MOVIE[2][0]]  # 9100, 2300, 900 MiB
    movie.get_by_label("Sort by").select_option("resolution")
    expect(movie.locator(".releases-note")).to_contain_text("by resolution")
    assert release_names(movie) == [MOVIE[1][0], MOVIE[0][0], MOVIE[2][0]]  # 2160p, 1080p, 720p

    # the show's never-scraped release says so
    show.get_by_role("button", name="Night Train · S01E02", exact=True).click()
    expect(show.locator("li.release")).to_have_count(2)
    expect(show.locator("li.release").nth(1).locator(".health")).to_contain_text("not checked yet")
    expect(show.locator("li.release").nth(1).locator(".release-facts")).to_contain_text("FR")

    # a filter narrows the works and the releases listed under them
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Resolution").select_option("2160p")
    search(page, "night train")
    expect(page.locator("#results li.work")).to_have_count(1)
    expect(page.locator("#search-message")).to_contain_text("with these filters")
    filtered = work(page, "Night Train (2019)")
    filtered.get_by_role("button", name="Night Train (2019)", exact=True).click()
    expect(filtered.locator("li.release")).to_have_count(1)
    assert release_names(filtered) == [MOVIE[1][0]]
    page.get_by_label("Language").select_option("fr")
    search(page, "night train")
    expect(page.locator("#search-message")).to_contain_text("Nothing found")  # no French 4K release
    page.get_by_role("button", name="Clear filters").click()
    page.get_by_label("Year").fill("3000")
    search(page, "night train")
    expect(page.locator("#search-message")).to_contain_text("Year: enter a whole number from 1878 to 2100")
    page.get_by_role("button", name="Clear filters").click()

    # a page is 20 titles, or 20 releases of a title: More titles / More releases fetch the next page
    search(page, "harbor lights")
    expect(page.locator("#results li.work")).to_have_count(20)
    expect(page.locator("#search-message")).to_contain_text("20 titles for “harbor lights” so far")
    page.get_by_role("button", name="More titles").click()
    expect(page.locator("#results li.work")).to_have_count(21)
    expect(page.locator("#search-message")).to_contain_text("21 titles for “harbor lights”.")
    expect(page.get_by_role("button", name="More titles")).to_be_hidden()
    assert len(set(page.locator("#results li.work").evaluate_all("rows => rows.map(r => r.dataset.id)"))) == 21
    search(page, "lantern bay")
    lantern = work(page, "Lantern Bay (2015)")
    expect(lantern.locator(".count")).to_have_text("21 releases")
    lantern.get_by_role("button", name="Lantern Bay (2015)", exact=True).click()
    expect(lantern.locator("li.release")).to_have_count(20)
    expect(lantern.locator(".releases-note")).to_contain_text("20 releases so far, by health")
    lantern.get_by_role("button", name="More releases").click()
    expect(lantern.locator("li.release")).to_have_count(21)
    assert release_names(lantern) == [name for name, *_ in MANY_RELEASES]  # by health, no repeat, none lost
    expect(lantern.get_by_role("button", name="More releases")).to_be_hidden()

    # Add goes through the app's add flow: the release is in the library and in the engine, ready to play
    search(page, "night train")
    movie = work(page, "Night Train (2019)")
    movie.get_by_role("button", name="Night Train (2019)", exact=True).click()
    expect(movie.locator("li.release")).to_have_count(3)
    movie.locator("li.release").first.get_by_role("button", name="Add", exact=True).click()
    expect(movie.locator("li.release").first.get_by_role("button", name="Added", exact=True)).to_be_disabled()
    added = page.locator("#library-list li", has_text="Night Train 2019")
    expect(added.get_by_role("button", name="Play")).to_be_visible()
    with server.http() as http:
        token = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
        listed = http.get("/api/v1/torrents", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert [item["name"] for item in listed["items"]] == ["Night Train 2019"]
    axe_check(page, f"app-{tag}-work-added")
    watch.assert_clean()


def test_a_refused_search_reads_as_a_sentence(
    server: LiveServer, watched_page: tuple[Page, PageWatch], viewport: dict[str, int]
) -> None:
    """The real per-user search limit (60 a minute, a moving window) runs out for a fresh account; the
    page's next search is refused with 429 and says so in words, not in the problem's fields."""
    page, watch = watched_page
    email = f"limit-{secrets.token_hex(4)}@example.test"
    sign_up(page, email)
    search(page, "night train")
    expect(page.locator("#search-message")).to_contain_text("Nothing found")  # an empty catalog answers
    with server.http() as http:
        token = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        statuses = [http.get("/api/v1/catalog/works?q=night", headers=headers).status_code for _ in range(60)]
    assert statuses[-1] == 429, statuses
    search(page, "night train")
    expect(page.locator("#search-message")).to_have_text(
        "Too many searches in a short time; wait a minute and try again."
    )
    expect(page.locator("#search-message")).to_have_attribute("data-kind", "error")
    expect(page.locator("#results li")).to_have_count(0)
    watch.assert_clean()
