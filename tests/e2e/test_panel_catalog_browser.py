"""Panel catalog pages in Chromium: a moderator's decisions on the queue (titles with markup stay inert),
moderators see moderation only, and an admin adds, tests and removes a Torznab indexer; the test action
answers one generic failure and is rate-limited (SR-2.10, 3.3, 5.5, 6.1)."""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests import support
from tests.e2e.browser import LiveServer, PageWatch, screenshot
from tests.e2e.browser_accounts import Account, make_account, services
from tests.e2e.test_panel_browser import sign_in
from torrent_streamer.catalog import service as catalog_service
from torrent_streamer.catalog.models import Category
from torrent_streamer.catalog.schemas import CatalogEntryCreate, IndexerCreate

pytestmark = pytest.mark.browser
SCRIPT_TITLE = '"><script>alert("title")</script>'
IMG_TITLE = "<img src=x onerror=alert(1)> Big Buck"


def submit_entry(server: LiveServer, account: Account, title: str, description: str | None = None) -> str:
    """A pending submission by ``account``, through the catalog service (as ``POST /api/v1/catalog`` does)."""

    async def submit() -> str:
        data = CatalogEntryCreate(
            title=title, description=description, magnet=f"magnet:?xt=urn:btih:{secrets.token_hex(20)}&dn=entry",
            size_bytes=700 * 1024 * 1024, category=Category.movies,
        )  # fmt: skip
        async with services(server).sessionmaker() as session:
            entry = await catalog_service.submit(
                session, data, actor=catalog_service.Actor(user_id=account.user_id), now=server.clock.now()
            )
            await session.commit()
            return str(entry.id)

    entry_id: str = server.run(submit())
    return entry_id


def test_moderator_decides_and_markup_in_titles_stays_inert(
    server: LiveServer, watched_page: tuple[Page, PageWatch]
) -> None:
    page, watch = watched_page
    uploader = make_account(server, "user")
    scripted = submit_entry(
        server, uploader, SCRIPT_TITLE, description="<b>bold?</b> <a href=javascript:alert(2)>x</a>"
    )
    imaged = submit_entry(server, uploader, IMG_TITLE)
    moderator = make_account(server, "moderator")
    sign_in(page, server, moderator)
    expect(page).to_have_url(f"{server.base_url}/admin/moderation")  # moderators see moderation only
    nav = page.get_by_role("navigation", name="Panel")
    expect(nav.get_by_role("link")).to_have_text(["Moderation"])
    expect(page.locator(f'tr[data-entry-id="{scripted}"] .entry-title')).to_have_text(SCRIPT_TITLE)
    expect(page.locator(f'tr[data-entry-id="{imaged}"] .entry-title')).to_have_text(IMG_TITLE)
    expect(page.locator(f'tr[data-entry-id="{scripted}"] .entry-description')).to_have_text(
        "<b>bold?</b> <a href=javascript:alert(2)>x</a>"
    )
    assert page.locator('main img, main script, main a[href^="javascript"], .entry-description b').count() == 0
    screenshot(page, "panel-moderation")

    page.locator(f'tr[data-entry-id="{imaged}"]').get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("The entry is approved.")
    expect(page.locator(f'tr[data-entry-id="{imaged}"]')).to_have_count(0)
    page.locator(f'tr[data-entry-id="{scripted}"]').get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_have_text("The entry is removed.")
    assert watch.confirms == ["Remove: are you sure?"]
    expect(page.get_by_text("The queue is empty.")).to_be_visible()

    with server.http() as http:
        token = http.post("/api/v1/auth/login", json={"email": uploader.email, "password": uploader.password}).json()
        found = http.get(
            "/api/v1/torrents/search", params={"q": "Big Buck"},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        ).json()  # fmt: skip
    assert [item["id"] for item in found["items"]] == [imaged]

    page.goto("/admin/users")
    expect(page.get_by_role("heading", name="Refused")).to_be_visible()
    watch.assert_clean()


class _Torznab(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/missing"):  # answers, but not as an indexer
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>stub</title></channel></rss>'
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def torznab_stub() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Torznab)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/api"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_admin_adds_tests_and_removes_an_indexer(
    server: LiveServer, watched_page: tuple[Page, PageWatch], torznab_stub: str
) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    sign_in(page, server, admin, start="/admin/indexers")
    page.get_by_label("Name").fill("local-stub")
    page.get_by_label("Torznab URL").fill(torznab_stub)
    page.get_by_label("API key").fill("stub-key-123")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("The indexer was added.")
    row = page.locator("tr", has_text="local-stub")
    expect(row.locator("td").nth(2)).to_have_text("set")
    assert "stub-key-123" not in page.content()  # the key is never shown again
    row.get_by_role("button", name="Test").click()
    expect(page.get_by_role("status")).to_have_text("Test search: the indexer answered.")
    screenshot(page, "panel-indexers")
    page.locator("tr", has_text="local-stub").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_have_text("The indexer was removed.")
    expect(page.get_by_text("No indexers.")).to_be_visible()
    page.goto("/admin/audit?action=indexer.add")
    expect(page.locator("tbody tr")).to_have_count(1)
    watch.assert_clean()


def add_indexer(server: LiveServer, admin: Account, name: str, url: str) -> None:
    async def add() -> None:
        data = IndexerCreate(name=name, url=url, timeout_seconds=1.0)
        async with services(server).sessionmaker() as session:
            await catalog_service.add_indexer(
                session, data, box=services(server).secret_box, actor=catalog_service.Actor(user_id=admin.user_id),
                now=server.clock.now(),
            )  # fmt: skip
            await session.commit()

    server.run(add())


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (an open port that is not an indexer)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.mark.parametrize("live_settings", [{"indexer_test_limit": "4/minute"}])
def test_indexer_test_answers_one_generic_failure_and_is_rate_limited(
    server: LiveServer, watched_page: tuple[Page, PageWatch], torznab_stub: str, silent_port: int
) -> None:
    """Closed port, open non-indexer port, refused (link-local) address, non-Torznab answer: one message."""
    page, watch = watched_page
    admin = make_account(server, "admin")
    closed = support.free_port()
    candidates = {
        "closed-port": f"http://127.0.0.1:{closed}/api",
        "open-port": f"http://127.0.0.1:{silent_port}/api",
        "metadata": "http://169.254.169.254/latest/api",
        "not-torznab": torznab_stub.replace("/api", "/missing"),
    }
    for name, url in candidates.items():
        add_indexer(server, admin, name, url)
    sign_in(page, server, admin, start="/admin/indexers")
    messages = set()
    for name in candidates:
        page.locator("tr", has_text=name).get_by_role("button", name="Test").click()
        alert = page.get_by_role("alert")
        expect(alert).to_be_visible()
        messages.add(alert.inner_text())
    assert messages == {"Test search: the indexer gave no usable answer. Check the URL and the API key."}
    page.locator("tr", has_text="metadata").get_by_role("button", name="Test").click()
    expect(page.get_by_role("alert")).to_have_text("Too many test searches; wait a minute.")
    page.goto("/admin/audit?action=indexer.test")
    expect(page.locator("tbody tr")).to_have_count(4)
    watch.assert_clean()
