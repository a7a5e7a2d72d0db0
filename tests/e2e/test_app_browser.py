"""The web app as a new user meets it, in real Chromium at 390×844 and 1280×900, streaming from
libtorrent seeders on loopback: sign up → add by magnet and by upload → play → reload (still signed in,
resumes at the right second) → add a second title while the first plays (positions stay separate) →
remove → continue watching. Every screen passes axe-core (no serious violations) and is screenshotted."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests import support
from tests.e2e.app_support import (
    PASSWORD,
    PHONE,
    axe_check,
    connect_peer,
    sign_up,
    title_media,
    video_time,
    viewport,
    viewport_context,
)
from tests.e2e.browser import LiveServer, PageWatch, screenshot
from tests.engine.swarm import Media, Seeder

pytestmark = [pytest.mark.browser, pytest.mark.engine]

__all__ = ["viewport", "viewport_context"]  # the shared fixtures (both viewports), re-used


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {
        "engine": "libtorrent",
        "engine_listen_interfaces": f"127.0.0.1:{support.free_port()}",
        "engine_allow_private_networks": True,  # the seeders are on loopback
        "engine_enable_dht": False,
        "engine_enable_utp": False,
    }


@pytest.fixture
def titles(tmp_path: Path) -> Iterator[list[tuple[Media, Seeder]]]:
    first = title_media(tmp_path / "a", "First Film", {"readme.txt": b"not a video"})
    second = title_media(tmp_path / "b", "Second Film")
    seeders = [Seeder(first), Seeder(second)]
    try:
        yield [(first, seeders[0]), (second, seeders[1])]
    finally:
        for seeder in seeders:
            seeder.close()


def row(page: Page, name: str) -> Any:
    return page.locator("#library-list li", has_text=name)


def wait_playing_past(page: Page, seconds: float) -> None:
    try:
        page.wait_for_function(
            f"() => {{ const v = document.getElementById('video'); return !v.paused && v.currentTime > {seconds}; }}",
            timeout=60_000,
        )
    except PlaywrightTimeout:
        screenshot(page, "app-failed-waiting-to-play")
        state = page.evaluate(
            "() => { const v = document.getElementById('video'); return [v.currentSrc, v.currentTime, v.paused,"
            " v.readyState, v.error && v.error.message, document.getElementById('playback-state').textContent,"
            " document.getElementById('error-text').textContent, document.getElementById('status').textContent]; }"
        )
        raise AssertionError(f"not playing: {state}") from None


def pause_at(page: Page, second: float) -> None:
    """Seek to ``second``, wait for the frame, pause: the app saves the position on pause."""
    page.locator("#video").evaluate(f"v => {{ v.currentTime = {second}; }}")
    page.wait_for_function(
        f"() => {{ const v = document.getElementById('video'); return !v.seeking && v.currentTime >= {second}; }}",
        timeout=60_000,
    )
    page.locator("#video").evaluate("v => v.pause()")
    expect(page.get_by_role("status")).to_contain_text("saved")


def history(server: LiveServer, email: str, password: str) -> list[dict[str, Any]]:
    with server.http() as http:
        token = http.post("/api/v1/auth/login", json={"email": email, "password": password}).json()["access_token"]
        items: list[dict[str, Any]] = http.get(
            "/api/v1/me/history", headers={"Authorization": f"Bearer {token}"}
        ).json()["items"]
    return items


def test_sign_up_add_play_reload_resume_second_title_remove(
    server: LiveServer,
    watched_page: tuple[Page, PageWatch],
    titles: list[tuple[Media, Seeder]],
    viewport: dict[str, int],
    tmp_path: Path,
) -> None:
    page, watch = watched_page
    (first, first_seeder), (second, second_seeder) = titles
    tag = "phone" if viewport == PHONE else "desktop"
    email = f"new-{secrets.token_hex(4)}@example.test"

    page.goto("/app")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    axe_check(page, f"app-{tag}-sign-in")
    sign_up(page, email)
    axe_check(page, f"app-{tag}-library-empty")

    # add by magnet
    page.get_by_label("magnet", exact=False).fill(
        f"magnet:?xt=urn:btih:{first.info_hash}&dn=First+Film&x.pe=127.0.0.1:{first_seeder.port}"
    )
    page.get_by_role("button", name="Add", exact=True).click()
    first_row = row(page, "First Film")
    expect(first_row.get_by_role("button", name="Play")).to_be_visible(timeout=60_000)
    expect(first_row).to_contain_text("peer")
    axe_check(page, f"app-{tag}-library")

    # play, then stop at a known second
    first_row.get_by_role("button", name="Play").click()
    wait_playing_past(page, 0.5)
    watch_box = page.locator("#watch").bounding_box()
    assert watch_box is not None
    assert watch_box["y"] < viewport["height"] / 2  # the video is at the top
    expect(page.locator("#playback-state")).to_have_attribute("data-state", "playing")
    axe_check(page, f"app-{tag}-now-playing")
    pause_at(page, 12.4)
    saved = video_time(page)

    # reload: still signed in, continue watching resumes at the saved second
    page.reload()
    expect(page.get_by_role("heading", name="Continue watching")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in")).to_be_hidden()
    item = page.locator("#continue-list li", has_text="First Film")
    expect(item).to_contain_text("sample.mp4")
    axe_check(page, f"app-{tag}-continue-watching")
    item.get_by_role("button", name="Continue watching").click()
    page.wait_for_function(f"() => document.getElementById('video').currentTime >= {saved - 0.5}", timeout=60_000)
    assert video_time(page) < saved + 5  # resumed there, not at the start

    # add a second title by upload while the first plays: positions stay separate
    torrent_path = tmp_path / "second.torrent"
    torrent_path.write_bytes(second.torrent)
    page.get_by_label(".torrent file").set_input_files(str(torrent_path))
    page.get_by_role("button", name="Upload").click()
    expect(row(page, "Second Film").get_by_role("button", name="Play")).to_be_visible(timeout=60_000)
    connect_peer(server, second.info_hash, second_seeder.port)  # in the engine now; a .torrent names no peer
    pause_at(page, 20.2)
    positions = {(h["torrent_name"], h["file_name"]): h["position_seconds"] for h in history(server, email, PASSWORD)}
    assert list(positions) == [("First Film", "First Film/sample.mp4")]  # nothing under the new title
    assert positions[("First Film", "First Film/sample.mp4")] >= 20

    row(page, "Second Film").get_by_role("button", name="Play").click()
    expect(page.locator("#now-playing")).to_contain_text("Second Film")
    wait_playing_past(page, 0.2)
    pause_at(page, 3.3)
    positions = {h["torrent_name"]: h["position_seconds"] for h in history(server, email, PASSWORD)}
    assert set(positions) == {"First Film", "Second Film"}
    assert positions["Second Film"] < 10 < positions["First Film"]

    # remove the second: gone from the library and from continue watching
    row(page, "Second Film").get_by_role("button", name="Remove").click()
    expect(row(page, "Second Film")).to_have_count(0)
    expect(page.locator("#continue-list li", has_text="Second Film")).to_have_count(0)
    expect(page.locator("#continue-list li", has_text="First Film")).to_be_visible()
    axe_check(page, f"app-{tag}-after-remove")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # the cookie is gone too
    watch.assert_clean()
