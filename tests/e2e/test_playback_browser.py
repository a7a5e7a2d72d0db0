"""Each test clip plays in Debian's Chromium through /app: direct, HLS remux or HLS transcode as the
browser's capabilities decide (Chromium has no HEVC or AC-3 decoder: remux/transcode make those play).

Per clip: currentTime advances, videoWidth > 0, audio decodes, and a seek to 50 % resumes playback.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest
from playwright.sync_api import Page, expect

from tests import support
from tests.e2e.app_support import sign_in
from tests.e2e.browser import LiveServer, PageWatch, screenshot
from tests.e2e.browser_accounts import make_account
from tests.engine.swarm import PIECE, Media, Seeder
from tests.media.clips import CLIPS, make_clips

pytestmark = [pytest.mark.browser, pytest.mark.engine, pytest.mark.slow]
# Chromium: H.264/AAC MP4 and VP9/Opus WebM play directly; MKV H.264/AC-3 is remuxed (audio to AAC);
# MKV HEVC/AAC is transcoded to H.264.
MODES = {
    "faststart.mp4": "direct",
    "moov-at-end.mp4": "direct",
    "h264-ac3.mkv": "remux",
    "hevc-aac.mkv": "transcode",
    "vp9-opus.webm": "direct",
}


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
    clips = make_clips(tmp_path / "clips")
    root = tmp_path / "seed"
    (root / "Clips").mkdir(parents=True)
    files = {}
    for name in CLIPS:
        shutil.copy(clips[name], root / "Clips" / name)
        files[name] = clips[name].read_bytes()
    entries = [lt.create_file_entry(f"Clips/{name}", len(data)) for name, data in files.items()]
    ct = lt.create_torrent(entries, PIECE, lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, str(root))
    torrent = bytes(lt.bencode(ct.generate()))
    media = Media(root, "Clips", files, torrent, str(lt.torrent_info(torrent).info_hashes().v1))
    seeder = Seeder(media, upload_rate_limit=20 * 1024 * 1024)
    try:
        yield media, seeder
    finally:
        seeder.close()


def video(page: Page, expression: str) -> Any:
    return page.locator("#video").evaluate(expression)


# One MIME type per codec and container, asked of this Chromium: MSE or a "probably" from <video> for
# a codec, any answer from <video> for a container.
CODEC_TYPES = {
    "h264": 'video/mp4; codecs="avc1.42E01E"',
    "hevc": 'video/mp4; codecs="hvc1.1.6.L93.B0"',
    "vp9": 'video/webm; codecs="vp9"',
    "aac": 'audio/mp4; codecs="mp4a.40.2"',
    "opus": 'audio/webm; codecs="opus"',
    "ac3": 'audio/mp4; codecs="ac-3"',
}
CONTAINER_TYPES = {"mp4": "video/mp4", "webm": "video/webm"}
ASK_BROWSER = """([codecs, containers]) => {
  const v = document.createElement("video");
  const codec = (t) => MediaSource.isTypeSupported(t) || v.canPlayType(t) === "probably";
  return [...Object.keys(codecs).filter((n) => codec(codecs[n])),
          ...Object.keys(containers).filter((n) => v.canPlayType(containers[n]) !== "")];
}"""


def assert_real_capabilities(page: Page, body: Any) -> None:
    """The /playback body lists what this Chromium decodes (not a guess from its User-Agent)."""
    assert isinstance(body, dict)
    assert body.get("hls") is True  # a boolean: hls.js over MSE
    for field in ("video_codecs", "audio_codecs", "containers"):
        assert isinstance(body.get(field), list)
        assert body[field], field
    assert {"h264", "vp9"} <= set(body["video_codecs"])
    assert {"aac", "opus"} <= set(body["audio_codecs"])
    assert {"mp4", "webm"} <= set(body["containers"])
    listed = {*body["video_codecs"], *body["audio_codecs"], *body["containers"]}
    supported = set(page.evaluate(ASK_BROWSER, [CODEC_TYPES, CONTAINER_TYPES]))
    assert supported == {name for name in (*CODEC_TYPES, *CONTAINER_TYPES) if name in listed}


# One fresh server and swarm per clip, so each clip starts cold (first probe, first segment). The
# sequential-probe stall this once worked around is fixed: docs/streaming.md, "The stall that held this back".
@pytest.mark.parametrize("clip", list(MODES))
def test_clip_plays_and_seeks_in_chromium(
    server: LiveServer, watched_page: tuple[Page, PageWatch], seeded: tuple[Media, Seeder], clip: str
) -> None:
    page, watch = watched_page
    media, seeder = seeded
    account = make_account(server, "user")
    page.goto("/app")
    sign_in(page, account.email, account.password)
    magnet = f"magnet:?xt=urn:btih:{media.info_hash}&dn=Clips&x.pe=127.0.0.1:{seeder.port}"
    page.get_by_label("Magnet link").fill(magnet)
    page.locator("#magnet-form").get_by_role("button", name="Add", exact=True).click()
    play = page.locator("#library-list li", has_text="Clips").get_by_role("button", name=f"Play {clip}", exact=True)
    expect(play).to_be_visible(timeout=60_000)
    with page.expect_response(lambda r: r.url.endswith("/playback")) as answer:
        play.click()
    assert answer.value.json()["mode"] == MODES[clip]
    assert_real_capabilities(page, answer.value.request.post_data_json)
    page.wait_for_function("() => document.getElementById('video').currentTime > 1.5", timeout=90_000)
    assert video(page, "v => v.videoWidth") > 0
    assert video(page, "v => v.webkitAudioDecodedByteCount") > 0  # the audio really decodes
    duration = video(page, "v => v.duration")
    assert 19 < duration < 21
    video(page, "v => { v.currentTime = v.duration * 0.5; }")
    page.wait_for_function(
        "() => { const v = document.getElementById('video'); return v.currentTime > v.duration * 0.5 + 1.5; }",
        timeout=90_000,
    )
    assert video(page, "v => v.error") is None
    screenshot(page, f"playback-{clip}")
    watch.assert_clean()
