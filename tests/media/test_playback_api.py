"""Playback over the API with real clips in the in-memory engine: the decision per clip and profile,
playlists covering the whole duration, segments ffprobe decodes with the promised codecs, a segment at
70 % made without the earlier ones, subtitles as WebVTT, ownership and malformed bodies."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests import support
from tests.integration import torrents_support as ts
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.core.config import Settings
from torrent_streamer.media.service import MediaService

from .clips import ASS_FILE, CLIPS, CUES, SECONDS, SRT, SUBTITLE_CLIPS, decodes, ffprobe, first_video_time
from .test_decision import ANDROID_UA, CHROME_UA, FIREFOX_UA, SAFARI_UA

pytestmark = pytest.mark.slow
EXPECTED = {  # clip -> profile -> (mode, video codec out, audio codec out)
    "faststart.mp4": {"chrome": ("direct", "h264", "aac"), "safari": ("direct", "h264", "aac")},
    "moov-at-end.mp4": {"chrome": ("direct", "h264", "aac"), "safari": ("direct", "h264", "aac")},
    "h264-ac3.mkv": {"chrome": ("remux", "h264", "aac"), "safari": ("remux", "h264", "ac3")},
    "hevc-aac.mkv": {"chrome": ("transcode", "h264", "aac"), "safari": ("remux", "hevc", "aac")},
    "vp9-opus.webm": {"chrome": ("direct", "vp9", "opus"), "safari": ("transcode", "h264", "aac")},
}
# The other profiles: Firefox decides as Chrome; Android (stereo) and the conservative default (H.264,
# AAC/MP3, MP4 only) differ from Chrome on 5.1 audio and on WebM.
OTHER_PROFILES = {
    "firefox": {"faststart.mp4": "direct", "moov-at-end.mp4": "direct", "h264-ac3.mkv": "remux",
                "hevc-aac.mkv": "transcode", "vp9-opus.webm": "direct"},
    "android": {"faststart.mp4": "direct", "moov-at-end.mp4": "direct", "h264-ac3.mkv": "remux",
                "hevc-aac.mkv": "transcode", "vp9-opus.webm": "direct"},
    "default": {"faststart.mp4": "direct", "moov-at-end.mp4": "direct", "h264-ac3.mkv": "remux",
                "hevc-aac.mkv": "transcode", "vp9-opus.webm": "transcode"},
}  # fmt: skip
UAS = {"chrome": CHROME_UA, "safari": SAFARI_UA, "firefox": FIREFOX_UA, "android": ANDROID_UA, "default": "curl/8.0"}


@pytest.fixture
def app(settings_factory: Any, clock: FrozenClock) -> FastAPI:
    settings: Settings = settings_factory(media_ffmpeg_path=None, media_encoder_idle_seconds=30.0)
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app, timeout=120.0) as http:
        yield http


class Library:
    def __init__(self, client: httpx.AsyncClient, app: FastAPI, files: dict[str, bytes]) -> None:
        self.client, self.app = client, app
        self.files = files

    async def start(self) -> Library:
        torrent = ts.engine_of(self.app).seed("Clips", list(self.files.items()))
        self.user = await ts.login(self.client)
        added = await self.client.post(
            "/api/v1/torrents", headers=self.user.headers, files={"torrent": ("c.torrent", torrent)}
        )
        assert added.status_code == 201, added.text
        self.torrent_id = added.json()["id"]
        return self

    def index(self, name: str) -> int:
        return list(self.files).index(name)

    async def playback(self, name: str, ua: str, body: object = None, user: ts.Authed | None = None) -> httpx.Response:
        headers = {**(user or self.user).headers, "User-Agent": ua}
        url = f"/api/v1/torrents/{self.torrent_id}/files/{self.index(name)}/playback"
        return await self.client.post(url, headers=headers, json=body)

    async def get(self, url: str) -> httpx.Response:
        return await self.client.get(urlsplit(url).path)

    @property
    def media(self) -> MediaService:
        service = self.app.state.services.extras["media"]
        assert isinstance(service, MediaService)
        return service


@pytest.fixture
async def library(client: httpx.AsyncClient, app: FastAPI, clips: dict[str, Path]) -> Library:
    files = {name: clips[name].read_bytes() for name in CLIPS} | {"extra.srt": SRT.encode()}
    return await Library(client, app, files).start()


@pytest.fixture
async def subtitle_library(client: httpx.AsyncClient, app: FastAPI, subtitle_clips: dict[str, Path]) -> Library:
    return await Library(client, app, {name: path.read_bytes() for name, path in subtitle_clips.items()}).start()


def segment_urls(master_url: str, playlist: str) -> list[str]:
    base = master_url.rsplit("/", 1)[0]
    return [f"{base}/{line}" for line in playlist.splitlines() if line.endswith(".m4s")]


async def fetch_segment(library: Library, master_url: str, index: int, folder: Path) -> Path:
    base = master_url.rsplit("/", 1)[0]
    init = await library.get(f"{base}/init.mp4")
    segment = await library.get(f"{base}/{index}.m4s")
    assert init.status_code == 200
    assert segment.status_code == 200, segment.text
    path = folder / f"{index}.mp4"
    path.write_bytes(init.content + segment.content)
    return path


@pytest.mark.parametrize("name", list(CLIPS))
@pytest.mark.parametrize("profile", ["chrome", "safari"])
async def test_decision_per_clip_and_profile(library: Library, name: str, profile: str, tmp_path: Path) -> None:
    response = await library.playback(name, UAS[profile])
    assert response.status_code == 200, response.text
    answer = response.json()
    mode, video_out, audio_out = EXPECTED[name][profile]
    assert answer["mode"] == mode
    assert answer["duration_seconds"] == pytest.approx(SECONDS, abs=0.1)
    assert answer["media"]["container"] == CLIPS[name].container
    assert answer["media"]["video"][0]["codec"] == CLIPS[name].video
    assert [t["codec"] for t in answer["audio_tracks"]] == [CLIPS[name].audio]
    if mode == "direct":
        assert "/api/v1/stream/" in answer["url"]
        assert not answer["url"].endswith(".m3u8")
        raw = await library.get(answer["url"])
        assert raw.content == library.files[name]
        return
    assert answer["url"].endswith("/master.m3u8")
    master = await library.get(answer["url"])
    assert master.status_code == 200
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert "video.m3u8" in master.text
    playlist = await library.get(answer["url"].replace("master.m3u8", "video.m3u8"))
    lines = playlist.text.splitlines()
    assert lines[-1] == "#EXT-X-ENDLIST"
    total = sum(float(line.split(":")[1].rstrip(",")) for line in lines if line.startswith("#EXTINF"))
    assert total == pytest.approx(SECONDS, abs=0.1)  # the whole duration, listed at once
    # A segment at 70 %, fetched first: made without the earlier ones, decodes with the promised codecs.
    count = len(segment_urls(answer["url"], playlist.text))
    late = int(count * 0.7)
    path = await fetch_segment(library, answer["url"], late, tmp_path)
    probe = ffprobe(path)
    codecs = sorted(str(s["codec_name"]) for s in probe["streams"])  # type: ignore[attr-defined]
    assert codecs == sorted([video_out, audio_out])
    assert decodes(path)
    starts = [float(line.split(":")[1].rstrip(",")) for line in lines if line.startswith("#EXTINF")]
    # Timestamps match the playlist (within the source's reorder delay and its first keyframe's offset).
    assert first_video_time(path) == pytest.approx(sum(starts[:late]), abs=0.25)


def variant_of(url: str) -> str:
    return url.rsplit("/", 2)[1]


@pytest.mark.parametrize("profile", list(OTHER_PROFILES))
async def test_decision_and_playlist_per_clip_for_the_other_profiles(library: Library, profile: str) -> None:
    """Decision and playlist for every clip; segments are checked above for every variant these produce.

    Each HLS answer here must name a variant the Chrome or Safari answer for the same clip names (whose
    segments ``test_decision_per_clip_and_profile`` decodes): a new variant needs segment checks of its own.
    """
    for name, mode in OTHER_PROFILES[profile].items():
        response = await library.playback(name, UAS[profile])
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (name, answer["mode"]) == (name, mode)
        assert answer["duration_seconds"] == pytest.approx(SECONDS, abs=0.1)
        if mode == "direct":
            assert not answer["url"].endswith(".m3u8")
            assert (await library.get(answer["url"])).content == library.files[name]
            continue
        assert answer["url"].endswith("/master.m3u8")
        tested = set()
        for other in ("chrome", "safari"):
            seen = (await library.playback(name, UAS[other])).json()
            if seen["mode"] != "direct":
                tested.add(variant_of(seen["url"]))
        assert variant_of(answer["url"]) in tested, f"{name} for {profile}: a variant without segment checks"
        playlist = await library.get(answer["url"].replace("master.m3u8", "video.m3u8"))
        assert playlist.status_code == 200
        lines = playlist.text.splitlines()
        assert lines[-1] == "#EXT-X-ENDLIST"
        total = sum(float(line.split(":")[1].rstrip(",")) for line in lines if line.startswith("#EXTINF"))
        assert total == pytest.approx(SECONDS, abs=0.1)


async def test_segment_at_70_percent_does_not_make_earlier_segments(library: Library, tmp_path: Path) -> None:
    answer = (await library.playback("h264-ac3.mkv", CHROME_UA)).json()
    playlist = (await library.get(answer["url"].replace("master.m3u8", "video.m3u8"))).text
    count = len(segment_urls(answer["url"], playlist))
    late = int(count * 0.7)
    await fetch_segment(library, answer["url"], late, tmp_path)
    info_hash = ts.engine_of(library.app).list_status()[0].info_hash
    key = (info_hash, library.index("h264-ac3.mkv"), answer["url"].rsplit("/", 2)[1])
    made = sorted(int(p.stem) for p in library.media.store.folder(key).glob("*.m4s"))
    assert made
    assert min(made) == late


async def test_embedded_and_file_subtitles_as_webvtt(library: Library) -> None:
    answer = (await library.playback("h264-ac3.mkv", CHROME_UA)).json()
    subs = answer["subtitles"]
    embedded = [s for s in subs if s["source"] == "embedded"]
    assert [(s["language"], s["convertible"]) for s in embedded] == [("eng", True)]
    vtt = await library.get(embedded[0]["url"])
    assert vtt.status_code == 200
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    assert all(cue in vtt.text for cue in CUES)
    files = [s for s in subs if s["source"] == "file"]
    assert [s["label"] for s in files] == ["extra.srt"]
    from_file = await library.get(files[0]["url"])
    assert from_file.text.startswith("WEBVTT")
    assert CUES[1] in from_file.text
    master = (await library.get(answer["url"])).text
    assert 'TYPE=SUBTITLES,GROUP-ID="subs"' in master
    assert 'SUBTITLES="subs"' in master
    sub_playlist_rel = next(part for part in master.split('URI="')[1:]).split('"')[0]
    sub_playlist = await library.get(answer["url"].rsplit("/", 1)[0] + "/" + sub_playlist_rel)
    assert sub_playlist.status_code == 200
    assert "#EXT-X-ENDLIST" in sub_playlist.text


@pytest.mark.parametrize("name", [c.name for c in SUBTITLE_CLIPS.values() if c.text])
async def test_ass_and_mov_text_tracks_as_webvtt(subtitle_library: Library, name: str) -> None:
    clip = SUBTITLE_CLIPS[name]
    answer = (await subtitle_library.playback(name, CHROME_UA)).json()
    assert [(s["codec"], s["convertible"]) for s in answer["media"]["subtitles"]] == [(clip.codec, True)]
    embedded = [s for s in answer["subtitles"] if s["source"] == "embedded"]
    assert [(s["language"], s["convertible"]) for s in embedded] == [(clip.language, True)]
    vtt = await subtitle_library.get(embedded[0]["url"])
    assert vtt.status_code == 200, vtt.text
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    assert all(cue in vtt.text for cue in CUES)
    # The cue timings survive (MP4 shifts its timeline by the AAC priming delay, 1024/48000 s).
    timings = re.findall(r"^00:(\d\d\.\d{3}) --> 00:(\d\d\.\d{3})$", vtt.text, flags=re.MULTILINE)
    assert [(float(a), float(b)) for a, b in timings] == [
        (pytest.approx(1.0, abs=0.05), pytest.approx(4.0, abs=0.05)),
        (pytest.approx(10.0, abs=0.05), pytest.approx(13.0, abs=0.05)),
    ]
    assert "Dialogue:" not in vtt.text  # no ASS markup left
    assert "{\\" not in vtt.text


async def test_an_ass_subtitle_file_as_webvtt(subtitle_library: Library) -> None:
    answer = (await subtitle_library.playback("ass.mkv", CHROME_UA)).json()
    files = [s for s in answer["subtitles"] if s["source"] == "file"]
    assert [(s["label"], s["convertible"]) for s in files] == [(ASS_FILE, True)]
    vtt = await subtitle_library.get(files[0]["url"])
    assert vtt.status_code == 200, vtt.text
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    assert all(cue in vtt.text for cue in CUES)


@pytest.mark.parametrize("name", [c.name for c in SUBTITLE_CLIPS.values() if not c.text])
async def test_image_subtitles_are_listed_as_not_convertible(subtitle_library: Library, name: str) -> None:
    clip = SUBTITLE_CLIPS[name]
    answer = (await subtitle_library.playback(name, CHROME_UA)).json()
    [track] = answer["media"]["subtitles"]
    assert (track["codec"], track["language"], track["convertible"]) == (clip.codec, clip.language, False)
    embedded = [s for s in answer["subtitles"] if s["source"] == "embedded"]
    assert [(s["language"], s["convertible"], s["url"]) for s in embedded] == [(clip.language, False, None)]
    assert answer["mode"] == "remux"  # MKV in Chrome; the master playlist leaves the image track out
    master = (await subtitle_library.get(answer["url"])).text
    assert f"subtitles/e{track['index']}.m3u8" not in master
    assert f"NAME={chr(34)}{ASS_FILE}{chr(34)}" in master  # the torrent's text subtitle file is there
    asked = await subtitle_library.get(answer["url"].split("/hls/")[0] + f"/subtitles/e{track['index']}.vtt")
    assert asked.status_code == 422
    assert asked.json()["type"].endswith("media-unplayable")


async def test_capabilities_in_the_body_win_over_the_user_agent(library: Library) -> None:
    body = {"video_codecs": ["h264", "hevc"], "audio_codecs": ["aac"], "containers": ["mp4"]}
    answer = (await library.playback("hevc-aac.mkv", CHROME_UA, body)).json()
    assert answer["mode"] == "remux"
    one_channel = (await library.playback("h264-ac3.mkv", SAFARI_UA, {"max_audio_channels": 2})).json()
    assert one_channel["mode"] == "remux"
    assert "copy-aac-" in one_channel["url"]


async def test_a_client_without_hls_gets_direct_play_or_a_422_problem(library: Library) -> None:
    direct = await library.playback("faststart.mp4", CHROME_UA, {"hls": False})
    assert direct.status_code == 200, direct.text
    assert direct.json()["mode"] == "direct"
    assert not direct.json()["url"].endswith(".m3u8")
    refused = await library.playback("h264-ac3.mkv", CHROME_UA, {"hls": False})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"].endswith("hls-required")
    assert problem["needed_mode"] == "remux"
    assert "needs HLS" in problem["detail"]
    transcode = await library.playback("hevc-aac.mkv", CHROME_UA, {"hls": False})
    assert (transcode.status_code, transcode.json()["needed_mode"]) == (422, "transcode")


@pytest.mark.parametrize(
    "body",
    [{"video_codecs": "h264"}, {"video_codecs": ["H264!"]}, {"hls": "yes"}, {"max_audio_channels": 0},
     {"unknown": 1}, {"video_codecs": ["h264"] * 33}, [1, 2]],
)  # fmt: skip
async def test_malformed_body_is_422(library: Library, body: object) -> None:
    response = await library.playback("faststart.mp4", CHROME_UA, body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unknown_audio_track_is_422_and_non_media_is_422(library: Library) -> None:
    response = await library.playback("faststart.mp4", CHROME_UA, {"audio_track": 9})
    assert response.status_code == 422
    assert response.json()["type"].endswith("audio-track-not-found")
    response = await library.playback("extra.srt", CHROME_UA)
    assert response.status_code == 422
    assert response.json()["type"].endswith("media-unplayable")


async def test_another_user_gets_404(library: Library) -> None:
    stranger = await ts.login(library.client)
    response = await library.playback("faststart.mp4", CHROME_UA, user=stranger)
    assert response.status_code == 404


async def test_hls_urls_are_signed(library: Library) -> None:
    answer = (await library.playback("h264-ac3.mkv", CHROME_UA)).json()
    path = urlsplit(answer["url"]).path
    token = path.split("/")[4]
    tampered = path.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert (await library.client.get(tampered)).status_code == 401
    assert (await library.client.get(path.replace("copy-aac", "h264-aac"))).status_code == 200
    bad_variant = path.replace("copy-aac-1", "copy-aac-7")
    assert (await library.client.get(bad_variant)).status_code == 404
    assert (await library.client.get(path.replace("master.m3u8", "999.m4s"))).status_code == 404
