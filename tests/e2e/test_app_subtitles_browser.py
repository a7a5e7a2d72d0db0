"""The player's subtitle picker in Chromium at 390×844 and 1280×900: a title with two sidecar subtitle files
(the committed sample's English SRT and a second one written here) plays; each choice in the picker makes
that text track the one showing (``video.textTracks[i].mode``) and its cue the one on screen; Off hides all.
The sample has one audio track, so the audio picker is absent (it appears only for two or more)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests import support
from tests.e2e.app_support import PHONE, axe_check, sign_up, title_media, viewport, viewport_context
from tests.e2e.browser import LiveServer, PageWatch
from tests.engine.swarm import Media, Seeder

pytestmark = [pytest.mark.browser, pytest.mark.engine]
SECOND = "".join(
    f"{n + 1}\n00:00:{n * 5:02d},000 --> 00:00:{n * 5 + 4:02d},500\nZweite Spur {n + 1}\n\n" for n in range(8)
)
# the state of every text track and the text of the cues on screen, in the page's own terms
TRACKS = """v => Array.from(v.textTracks, t => ({ label: t.label, mode: t.mode,
  cues: t.mode === 'showing' && t.activeCues ? Array.from(t.activeCues, c => c.text) : [] }))"""

__all__ = ["viewport", "viewport_context"]  # the shared fixtures (both viewports), re-used


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {
        "engine": "libtorrent",
        "engine_listen_interfaces": f"127.0.0.1:{support.free_port()}",
        "engine_allow_private_networks": True,
        "engine_enable_dht": False,
        "engine_enable_utp": False,
    }


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[Media, Seeder]]:
    media = title_media(tmp_path / "seed", "Subtitled Film", {"sample.de.srt": SECOND.encode()})
    seeder = Seeder(media)
    try:
        yield media, seeder
    finally:
        seeder.close()


def tracks(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.locator("#video").evaluate(TRACKS)
    return found


def wait_showing(page: Page, index: int, text: str) -> None:
    """Bounded wait until track ``index`` alone shows and a cue containing ``text`` is on screen."""
    page.wait_for_function(
        """([i, text]) => { const ts = document.getElementById('video').textTracks;
             if (ts.length <= i) return false;
             const others = Array.from(ts).filter((t, n) => n !== i).every(t => t.mode !== 'showing');
             const t = ts[i];
             return others && t.mode === 'showing' && t.activeCues
               && Array.from(t.activeCues).some(c => c.text.includes(text)); }""",
        arg=[index, text],
        timeout=60_000,
        polling=250,
    )


def test_the_subtitle_picker_changes_the_showing_track_and_cue(
    server: LiveServer, watched_page: tuple[Page, PageWatch], seeded: tuple[Media, Seeder], viewport: dict[str, int]
) -> None:
    page, watch = watched_page
    media, seeder = seeded
    tag = "phone" if viewport == PHONE else "desktop"
    sign_up(page, f"subs-{secrets.token_hex(4)}@example.test")
    page.get_by_label("magnet", exact=False).fill(
        f"magnet:?xt=urn:btih:{media.info_hash}&dn=Subtitled+Film&x.pe=127.0.0.1:{seeder.port}"
    )
    page.get_by_role("button", name="Add", exact=True).click()
    title = page.locator("#library-list li", has_text="Subtitled Film")
    expect(title.get_by_role("button", name="Play")).to_be_visible(timeout=60_000)
    title.get_by_role("button", name="Play").click()
    page.wait_for_function("() => document.getElementById('video').currentTime > 0.5", timeout=90_000)

    pickers = page.locator("#playback-pickers")  # the playback API's pickers (the file pickers stay hidden)
    picker = pickers.get_by_label("Subtitles")
    expect(picker).to_be_visible()
    labels = picker.locator("option").all_inner_texts()
    assert labels[0] == "Off", labels
    assert len(labels) == 3, labels
    expect(pickers.get_by_label("Audio")).to_have_count(0)  # one audio track: no audio picker
    names = [t["label"] for t in tracks(page)]
    english = next(i for i, label in enumerate(labels[1:]) if "de" not in label.lower().split("."))
    german = 1 - english
    assert len(names) == 2, names

    page.locator("#video").evaluate("v => { v.pause(); v.currentTime = 6; }")  # inside cue 2 of both files
    picker.select_option(label=labels[1 + german])
    wait_showing(page, german, "Zweite Spur 2")
    axe_check(page, f"app-{tag}-subtitles-second")
    picker.select_option(label=labels[1 + english])
    wait_showing(page, english, "Test subtitle 2")
    picker.select_option(label="Off")
    page.wait_for_function(
        "() => Array.from(document.getElementById('video').textTracks).every(t => t.mode !== 'showing')",
        timeout=30_000,
    )
    assert all(t["cues"] == [] for t in tracks(page)), tracks(page)
    watch.assert_clean()
