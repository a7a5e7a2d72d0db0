"""The web app's library when things go wrong, in Chromium at 390×844 and 1280×900: a dead magnet (its metadata wait
runs out) shows the reason and Retry; at the torrent limit the error offers the library's Remove."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests import support
from tests.e2e.app_support import PHONE, axe_check, sign_up, viewport, viewport_context
from tests.e2e.browser import LiveServer, PageWatch

pytestmark = [pytest.mark.browser, pytest.mark.engine]
GIVE_UP = 60.0

__all__ = ["viewport", "viewport_context"]  # the shared fixtures (both viewports), re-used


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {
        "engine": "libtorrent",
        "engine_listen_interfaces": f"127.0.0.1:{support.free_port()}",
        "engine_allow_private_networks": True,
        "engine_enable_dht": False,
        "engine_enable_utp": False,
        "engine_max_active_torrents_per_user": 1,
        "library_metadata_give_up_seconds": GIVE_UP,
    }


def add_magnet(page: Page, name: str) -> None:
    page.get_by_label("magnet", exact=False).fill(f"magnet:?xt=urn:btih:{secrets.token_hex(20)}&dn={name}")
    page.get_by_role("button", name="Add", exact=True).click()


def test_dead_magnet_retry_and_the_limit_offers_removal(
    server: LiveServer, watched_page: tuple[Page, PageWatch], viewport: dict[str, int]
) -> None:
    page, watch = watched_page
    tag = "phone" if viewport == PHONE else "desktop"
    sign_up(page, f"lib-{secrets.token_hex(4)}@example.test")

    add_magnet(page, "Nobody+Seeds+This")
    dead = page.locator("#library-list li", has_text="Nobody Seeds This")
    expect(dead).to_contain_text("Fetching metadata")
    add_magnet(page, "One+Too+Many")  # the limit is 1
    expect(page.get_by_role("alert")).to_contain_text("Your library is full")
    page.get_by_role("button", name="Show my library").click()
    expect(dead.get_by_role("button", name="Remove")).to_be_focused()
    axe_check(page, f"app-{tag}-limit")

    server.clock.advance(seconds=GIVE_UP + 1)  # the metadata wait runs out
    expect(dead).to_contain_text("No peer sent this torrent's details within 1 minute", timeout=30_000)
    expect(dead).to_contain_text("No peers found")
    axe_check(page, f"app-{tag}-dead-magnet")
    add_magnet(page, "Second+Try")  # the dead magnet no longer holds the only slot
    expect(page.locator("#library-list li", has_text="Second Try")).to_be_visible()
    dead.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("alert")).to_contain_text("Your library is full")  # the retry needs a slot too
    page.locator("#library-list li", has_text="Second Try").get_by_role("button", name="Remove").click()
    expect(page.locator("#library-list li", has_text="Second Try")).to_have_count(0)
    dead.get_by_role("button", name="Retry").click()
    expect(dead).to_contain_text("Fetching metadata", timeout=30_000)
    watch.assert_clean()
