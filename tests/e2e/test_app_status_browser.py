"""The web app's honest status line and its sign-out on a failed refresh, in real Chromium at 390×844 and
1280×900.

1. Now playing, fed by a throttled libtorrent seeder on loopback (slower than the sample's bitrate):
   ``#playback-state`` goes connecting (no peer yet) → buffering n% (the seeder trickles) → playing
   (frames flow) → stalled (the seeder pauses while the player waits). Every ``data-state`` change is
   recorded in the page by a MutationObserver, so the test asserts on the observed sequence, never on time.
   axe-core checks the sign-up form and the buffering and stalled screens.
2. A magnet added before its seeder is reachable: "Watch when ready" opens Now playing on "Fetching
   metadata", which holds until the test points the engine at the seeder; then the file plays.
3. Issue 12 item 4: when the refresh fails (the family was revoked server-side and the access token
   expired), the page POSTs ``/api/v1/auth/web/logout`` and shows the sign-in screen.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Request, Response, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests import support
from tests.e2e.app_support import (
    PHONE,
    axe_check,
    connect_peer,
    sign_up,
    title_media,
    viewport,
    viewport_context,
)
from tests.e2e.browser import LiveServer, PageWatch, screenshot
from tests.e2e.browser_accounts import make_account
from tests.engine.swarm import Media, Seeder

pytestmark = [pytest.mark.browser, pytest.mark.engine]

# The sample MP4 is ~97 kbit/s (12 KB/s): a seeder at 8 KB/s cannot keep ahead of playback.
TRICKLE = 8 * 1024
RECORD_STATES = """() => {
  const box = document.getElementById('playback-state');
  window.tsSeenStates = [];
  const note = () => {
    const seen = window.tsSeenStates;
    const last = seen[seen.length - 1];
    if (!last || last.state !== box.dataset.state) seen.push({ state: box.dataset.state, text: box.textContent });
  };
  new MutationObserver(note).observe(box, { attributes: true, attributeFilter: ['data-state'] });
}"""

__all__ = ["viewport", "viewport_context"]  # the shared fixtures (both viewports), re-used


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {
        "engine": "libtorrent",
        "engine_listen_interfaces": f"127.0.0.1:{support.free_port()}",
        "engine_allow_private_networks": True,  # the seeder is on loopback
        "engine_enable_dht": False,
        "engine_enable_utp": False,
    }


def tag_of(viewport: dict[str, int]) -> str:
    return "phone" if viewport == PHONE else "desktop"


@pytest.fixture
def trickle(tmp_path: Path) -> Iterator[tuple[Media, Seeder]]:
    media = title_media(tmp_path / "seed", "Slow Film")
    seeder = Seeder(media, upload_rate_limit=TRICKLE)
    try:
        yield media, seeder
    finally:
        seeder.close()


def seen_states(page: Page) -> list[dict[str, str]]:
    found: list[dict[str, str]] = page.evaluate("() => window.tsSeenStates")
    return found


def wait_seen(page: Page, state: str) -> None:
    """Bounded wait until the recorder has seen ``state``; on failure, the sequence seen so far."""
    try:
        page.wait_for_function(
            "s => window.tsSeenStates.some((e) => e.state === s)", arg=state, timeout=90_000, polling=250
        )
    except PlaywrightTimeout:
        screenshot(page, f"app-status-no-{state}")
        raise AssertionError(f"never {state!r}; seen {seen_states(page)}") from None


def test_now_playing_status_goes_connecting_buffering_playing_stalled(
    server: LiveServer,
    watched_page: tuple[Page, PageWatch],
    trickle: tuple[Media, Seeder],
    viewport: dict[str, int],
    tmp_path: Path,
) -> None:
    page, watch = watched_page
    media, seeder = trickle
    tag = tag_of(viewport)
    email = f"status-{secrets.token_hex(4)}@example.test"
    sign_up(page, email, axe=f"app-{tag}-sign-up")
    expect(page.locator("#who")).to_have_text(email)  # /me answered: the page holds its access token

    # an uploaded .torrent names no peer: the engine has none until the test points it at the seeder
    torrent_path = tmp_path / "slow.torrent"
    torrent_path.write_bytes(media.torrent)
    page.get_by_label(".torrent file").set_input_files(str(torrent_path))
    page.get_by_role("button", name="Upload").click()
    title = page.locator("#library-list li", has_text="Slow Film")
    expect(title.get_by_role("button", name="Play")).to_be_visible(timeout=60_000)

    page.evaluate(RECORD_STATES)
    title.get_by_role("button", name="Play").click()
    state = page.locator("#playback-state")
    swarm = page.locator("#swarm")
    expect(swarm).to_have_text(re.compile(r"^0 peers "), timeout=30_000)  # the engine's status has arrived
    expect(state).to_have_attribute("data-state", "connecting")
    expect(state).to_have_text("Connecting…")
    screenshot(page, f"app-{tag}-status-connecting")

    connect_peer(server, media.info_hash, seeder.port)
    expect(swarm).to_have_text(re.compile(r"^[1-9]\d* peers? · "), timeout=60_000)
    wait_seen(page, "buffering")
    axe_check(page, f"app-{tag}-status-buffering")
    wait_seen(page, "playing")

    seeder.handle.pause()  # nothing more arrives: the player runs out of data and waits
    wait_seen(page, "stalled")
    expect(state).to_have_text("Stalled: no data is arriving from peers")
    axe_check(page, f"app-{tag}-status-stalled")

    sequence = [entry["state"] for entry in seen_states(page)]
    assert sequence[0] == "connecting", sequence
    order = [sequence.index(name) for name in ("connecting", "buffering", "playing")]
    assert order == sorted(order), sequence
    assert sequence.index("stalled") > sequence.index("playing"), sequence
    assert "error" not in sequence, sequence
    assert "metadata" not in sequence, sequence  # the metadata came with the .torrent
    buffering = [entry["text"] for entry in seen_states(page) if entry["state"] == "buffering"]
    assert all(re.fullmatch(r"Buffering \d{1,2}%", text) for text in buffering), buffering
    watch.assert_clean()


def test_a_magnet_without_peers_shows_fetching_metadata_until_its_seeder_appears(
    server: LiveServer,
    watched_page: tuple[Page, PageWatch],
    trickle: tuple[Media, Seeder],
    viewport: dict[str, int],
) -> None:
    page, watch = watched_page
    media, seeder = trickle
    tag = tag_of(viewport)
    sign_up(page, f"meta-{secrets.token_hex(4)}@example.test")

    # the magnet names no peer and there is no tracker or DHT: nobody can send the details yet
    page.get_by_label("magnet", exact=False).fill(f"magnet:?xt=urn:btih:{media.info_hash}&dn=Slow+Film")
    page.get_by_role("button", name="Add", exact=True).click()
    title = page.locator("#library-list li", has_text="Slow Film")
    expect(title).to_contain_text("Fetching metadata")
    expect(title.get_by_role("button", name="Play")).to_have_count(0)  # no file is known yet

    page.evaluate(RECORD_STATES)
    title.get_by_role("button", name="Watch when ready").click()
    state = page.locator("#playback-state")
    expect(page.get_by_role("heading", name="Now playing")).to_be_visible()
    expect(state).to_have_attribute("data-state", "metadata")
    expect(state).to_have_text("Fetching metadata: asking peers for this torrent's details…")
    expect(page.locator("#swarm")).to_have_text(re.compile(r"^0 peers "), timeout=30_000)  # the engine's status came
    expect(state).to_have_attribute("data-state", "metadata")  # and it still has no details
    axe_check(page, f"app-{tag}-status-metadata")

    connect_peer(server, media.info_hash, seeder.port)  # the seeder appears; the details come at 8 KiB/s
    wait_seen(page, "playing")
    expect(page.locator("#now-playing")).to_have_text("Slow Film · sample.mp4")
    expect(title.get_by_role("button", name="Play")).to_be_visible()  # the library knows the files now

    sequence = [entry["state"] for entry in seen_states(page)]
    assert sequence[0] == "metadata", sequence
    assert sequence.index("playing") > sequence.index("metadata"), sequence
    assert "metadata" not in sequence[sequence.index("metadata") + 1 :], sequence  # never back once known
    assert "error" not in sequence, sequence
    watch.assert_clean()


def test_a_failed_refresh_calls_logout_and_shows_sign_in(
    server: LiveServer, watched_page: tuple[Page, PageWatch]
) -> None:
    page, watch = watched_page
    account = make_account(server)
    page.goto("/app")
    form = page.locator("#login-form")
    form.locator("#email").fill(account.email)
    form.locator("#password").fill(account.password)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Library")).to_be_visible()

    posts: list[str] = []
    refreshes: list[int] = []

    def on_request(request: Request) -> None:
        if request.method == "POST":
            posts.append(request.url.removeprefix(server.base_url))

    def on_response(response: Response) -> None:
        if response.request.method == "POST" and response.url.endswith("/api/v1/auth/web/refresh"):
            refreshes.append(response.status)

    page.on("request", on_request)
    page.on("response", on_response)

    # server-side: every family of the user revoked, and the page's access token past its lifetime
    with server.http() as http:
        token = http.post("/api/v1/auth/login", json={"email": account.email, "password": account.password}).json()[
            "access_token"
        ]
        assert http.post("/api/v1/auth/logout-all", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    server.clock.advance(seconds=server.app.state.services.settings.access_token_ttl_seconds + 1)

    status = page.evaluate("() => window.tsApi.call('/me').then(() => 200, (error) => error.status)")
    assert status == 401
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("heading", name="Library")).to_be_hidden()
    expect(page.locator("#status")).to_have_text("Your session has ended; sign in again.")
    assert refreshes, posts
    assert all(code == 401 for code in refreshes), refreshes
    assert "/api/v1/auth/web/logout" in posts, posts
    assert posts.index("/api/v1/auth/web/logout") > posts.index("/api/v1/auth/web/refresh"), posts

    page.reload()  # the cookie is gone: still signed out
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    watch.assert_clean()
