"""The admin panel's torrent counts against its rows, in Chromium, on the real libtorrent engine: several
torrents (one seeded on loopback, the rest magnets nobody seeds), the newest still without an engine status
(the status refresh is held while they are added). The dashboard's "Active torrents" and the Torrents page's
figures must equal the rows the Torrents page lists (issue 17: "Active torrents 9" over a list of 20 rows)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests import support
from tests.e2e.app_support import title_media
from tests.e2e.browser import LiveServer, PageWatch, screenshot
from tests.e2e.browser_accounts import make_account
from tests.e2e.test_panel_browser import sign_in
from tests.engine.swarm import Seeder
from torrent_streamer.torrents.runtime import ENGINE_KEY

pytestmark = [pytest.mark.browser, pytest.mark.engine]
DEAD = 4


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {
        "engine": "libtorrent",
        "engine_listen_interfaces": f"127.0.0.1:{support.free_port()}",
        "engine_allow_private_networks": True,
        "engine_enable_dht": False,
        "engine_enable_utp": False,
    }


class _HeldSession:
    """The engine's libtorrent session with its periodic status request held (every other call passes)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def post_torrent_updates(self, flags: int = 0) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@contextmanager
def statuses_held(server: LiveServer) -> Iterator[Any]:
    engine = server.app.state.services.extras[ENGINE_KEY]
    session = engine._ses  # the engine's own attribute behind its read-only ``session``
    engine._ses = _HeldSession(session)
    try:
        yield engine
    finally:
        engine._ses = session


async def _figures(engine: Any) -> tuple[int, int]:
    return engine.stats().active_torrents, len(engine.list_status())


def test_dashboard_and_torrents_page_count_the_listed_rows(
    server: LiveServer, watched_page: tuple[Page, PageWatch], tmp_path: Path
) -> None:
    page, watch = watched_page
    media = title_media(tmp_path / "seed", "Counted Film")
    seeder = Seeder(media)
    try:
        viewer = make_account(server)
        admin = make_account(server, "admin")
        sign_in(page, server, admin)
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        with server.http() as http:
            token = http.post("/api/v1/auth/login", json={"email": viewer.email, "password": viewer.password}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}

            def add(magnet: str) -> None:
                added = http.post("/api/v1/torrents", json={"magnet": magnet}, headers=headers)
                assert added.status_code == 201, added.text

            add(f"magnet:?xt=urn:btih:{media.info_hash}&dn=Counted+Film&x.pe=127.0.0.1:{seeder.port}")
            add(f"magnet:?xt=urn:btih:{secrets.token_hex(20)}&dn=Dead+0")
            with statuses_held(server) as engine:  # these have no engine status until the hold ends
                for n in range(1, DEAD):
                    add(f"magnet:?xt=urn:btih:{secrets.token_hex(20)}&dn=Dead+{n}")
                with_status, listed = server.run(_figures(engine))
                assert listed == DEAD + 1
                assert with_status < listed, (with_status, listed)  # the precondition: some without status

                page.goto("/admin")
                dashboard = int(page.locator("#active-torrents").inner_text())
                screenshot(page, "panel-dashboard-counts")
                page.goto("/admin/torrents")
                rows = page.locator("tr[data-info-hash]")
                expect(rows).to_have_count(listed)
                states = [cell.strip() for cell in rows.locator("td:nth-child(2)").all_inner_texts()]
                active_rows = sum(1 for s in states if s not in ("paused", "error"))
                screenshot(page, "panel-torrents-counts")
                assert dashboard == active_rows == listed, (dashboard, states)
                expect(page.locator("#engine-torrents")).to_have_text(str(listed))
                expect(page.locator("#active-torrents")).to_have_text(str(active_rows))
    finally:
        seeder.close()
    watch.assert_clean()
