"""Helpers of the web app's browser tests: torrents of the committed sample video, loopback seeders,
sign-up through the page, and the vendored axe-core accessibility check."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.browser import LiveServer, screenshot
from tests.engine.swarm import Media

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "media"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
PIECE = 16 * 1024
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "Tq9!lantern-Moss-42"


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    """Every test that uses it runs at 390x844 and at 1280x900 (issue 17)."""
    found: dict[str, int] = request.param
    return found


@pytest.fixture(name="context")
def viewport_context(browser: Browser, server: LiveServer, viewport: dict[str, int]) -> Iterator[BrowserContext]:
    """The browser context at ``viewport``; import it (with ``viewport``) into a test module to use it."""
    ctx = browser.new_context(base_url=server.base_url, viewport=viewport)  # type: ignore[arg-type]
    yield ctx
    ctx.close()


def title_media(root: Path, name: str, extra: dict[str, bytes] | None = None) -> Media:
    """A torrent named ``name`` of the committed sample MP4 (40 s, moov at the end), its SRT and ``extra``."""
    (root / name).mkdir(parents=True)
    files: dict[str, bytes] = {}
    for file_name in ("sample.mp4", "sample.srt"):
        shutil.copyfile(FIXTURES / file_name, root / name / file_name)
        files[file_name] = (FIXTURES / file_name).read_bytes()
    for file_name, data in (extra or {}).items():
        (root / name / file_name).write_bytes(data)
        files[file_name] = data
    entries = [lt.create_file_entry(f"{name}/{rel}", len(data)) for rel, data in files.items()]
    creator = lt.create_torrent(entries, PIECE, lt.create_torrent.v1_only)
    lt.set_piece_hashes(creator, str(root))
    torrent = bytes(lt.bencode(creator.generate()))
    return Media(root, name, files, torrent, str(lt.torrent_info(torrent).info_hashes().v1))


def connect_peer(server: LiveServer, info_hash: str, port: int) -> None:
    """Point the app's engine at a loopback seeder (an uploaded .torrent names no peer)."""
    engine = server.app.state.services.extras["engine"]
    server.server_loop.call_soon_threadsafe(engine.connect_peer, info_hash, "127.0.0.1", port)


def sign_in(page: Page, email: str, password: str, *, signed_in: bool = True) -> None:
    """Fill the app's sign-in form (the sign-up form has fields with the same labels); with
    ``signed_in`` wait until the app shows the signed-in screens."""
    form = page.locator("#login-form")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in", exact=True).click()
    if signed_in:
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_up(page: Page, email: str, password: str = PASSWORD, *, axe: str | None = None) -> None:
    """Sign up through the page; with ``axe``, check the sign-up form (rules met and not yet) under that name."""
    page.goto("/app")
    page.get_by_role("button", name="Create an account").click()
    form = page.locator("#sign-up-form")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Password", exact=True).fill("short")
    expect(page.locator('#password-rules li[data-rule="length"]')).to_have_attribute("data-met", "no")
    if axe is not None:
        axe_check(page, axe)
    form.get_by_label("Password", exact=True).fill(password)
    for rule in ("length", "lower", "upper", "digit", "symbol", "email"):
        expect(page.locator(f'#password-rules li[data-rule="{rule}"]')).to_have_attribute("data-met", "yes")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Library")).to_be_visible()


def video_time(page: Page) -> float:
    return float(page.locator("#video").evaluate("v => v.currentTime"))


def axe_check(page: Page, name: str) -> None:
    """No serious or critical axe-core violation on the current screen; a screenshot beside it."""
    source = AXE.read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256, "tests/e2e/vendor/axe.min.js changed"
    page.evaluate(source.decode("utf-8"))  # DevTools evaluation: not an inline script, the page CSP stays
    result: dict[str, Any] = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return {violations: r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))}; }"
    )
    serious = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    screenshot(page, name)
    assert serious == [], json.dumps(serious, indent=1)
