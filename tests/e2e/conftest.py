"""Fixtures of the browser tests: a live server in a thread on a FrozenClock, and Debian's Chromium.

No async fixtures here: Playwright's sync API owns the test thread's event loop while it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests import support
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, PageWatch, live_server
from torrent_streamer.core.clock import FrozenClock


async def _empty_tables(database_url: str) -> None:
    engine = support.engine_for(support.admin_url(database_url))  # the app role may not TRUNCATE
    try:
        await support.truncate_all(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def live_settings() -> dict[str, Any]:
    """Extra settings of the live server; a test module overrides this fixture (e.g. the real engine)."""
    return {}


@pytest.fixture
def server(database_url: str, tmp_path: Path, live_settings: dict[str, Any]) -> Iterator[LiveServer]:
    settings = support.make_settings(
        tmp_path / "data", database_url=database_url, trusted_hosts=["127.0.0.1", "localhost"], **live_settings
    )
    with live_server(settings, FrozenClock()) as live:
        try:
            yield live
        finally:
            live.run(_empty_tables(database_url))


@pytest.fixture
def browser(server: LiveServer) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run); browser tests never skip")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def context(browser: Browser, server: LiveServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.base_url)
    yield ctx
    ctx.close()


@pytest.fixture
def watched_page(context: BrowserContext) -> Iterator[tuple[Page, PageWatch]]:
    page = context.new_page()
    watch = PageWatch()
    watch.attach(page)
    yield page, watch
    page.close()
