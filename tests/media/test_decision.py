"""The playback decision table (docs/streaming.md), per clip shape and client profile, as a pure function."""

from __future__ import annotations

from dataclasses import replace

import pytest

from torrent_streamer.media.decision import PROFILES, HlsRequired, capabilities, decide, profile_for
from torrent_streamer.media.probe import AudioTrack, MediaInfo, VideoTrack

SAFARI_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)
CHROME_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
ANDROID_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"


def media(container: str, video: str | None, *audio: tuple[str, int]) -> MediaInfo:
    return MediaInfo(
        container=container,
        format_name="x",
        duration=20.0,
        start_time=0.0,
        video=(VideoTrack(0, video, None, 320, 180),) if video else (),
        audio=tuple(AudioTrack(i + 1, codec, None, ch, None, None, i == 0) for i, (codec, ch) in enumerate(audio)),
    )


FASTSTART = media("mp4", "h264", ("aac", 2))
H264_AC3 = media("mkv", "h264", ("ac3", 6))
HEVC_AAC = media("mkv", "hevc", ("aac", 2))
VP9_OPUS = media("webm", "vp9", ("opus", 2))
AAC_51_MP4 = media("mp4", "h264", ("aac", 6))


@pytest.mark.parametrize(
    ("ua", "profile"),
    [(SAFARI_UA, "safari"), (CHROME_UA, "chrome"), (FIREFOX_UA, "firefox"), (ANDROID_UA, "android"),
     ("curl/8.0", "default"), (None, "default")],
)  # fmt: skip
def test_profile_from_user_agent(ua: str | None, profile: str) -> None:
    assert profile_for(ua) == profile


# (media, profile, expected mode, video action, audio action)
TABLE = [
    (FASTSTART, "chrome", "direct", "copy", "copy"),
    (FASTSTART, "safari", "direct", "copy", "copy"),
    (FASTSTART, "default", "direct", "copy", "copy"),
    (H264_AC3, "chrome", "remux", "copy", "aac"),  # the example: video copied, audio to AAC
    (H264_AC3, "safari", "remux", "copy", "copy"),  # Safari decodes AC-3: only the container changes
    (H264_AC3, "firefox", "remux", "copy", "aac"),
    (HEVC_AAC, "safari", "remux", "copy", "copy"),  # HEVC in fMP4
    (HEVC_AAC, "chrome", "transcode", "h264", "copy"),
    (HEVC_AAC, "android", "transcode", "h264", "copy"),
    (VP9_OPUS, "chrome", "direct", "copy", "copy"),
    (VP9_OPUS, "firefox", "direct", "copy", "copy"),
    (VP9_OPUS, "safari", "transcode", "h264", "aac"),
    (VP9_OPUS, "default", "transcode", "h264", "aac"),
    (AAC_51_MP4, "android", "remux", "copy", "aac"),  # over max_audio_channels: AAC stereo
    (AAC_51_MP4, "chrome", "direct", "copy", "copy"),
]


@pytest.mark.parametrize(("info", "profile", "mode", "video", "audio"), TABLE)
def test_decision_table(info: MediaInfo, profile: str, mode: str, video: str, audio: str) -> None:
    decision = decide(info, PROFILES[profile])
    assert (decision.mode, decision.video, decision.audio) == (mode, video, audio)
    assert decision.audio_track == 1


def test_body_fields_override_the_profile() -> None:
    caps = capabilities(CHROME_UA, video_codecs=["h264", "hevc"], max_audio_channels=8)
    assert decide(HEVC_AAC, caps).mode == "remux"
    assert caps.audio_codecs == PROFILES["chrome"].audio_codecs  # the rest from the profile
    assert decide(H264_AC3, capabilities(CHROME_UA, audio_codecs=["ac3"], containers=["mkv"])).mode == "direct"


def test_choosing_another_audio_track_rules_out_direct_play() -> None:
    two = media("mp4", "h264", ("aac", 2), ("aac", 2))
    assert decide(two, PROFILES["chrome"]).mode == "direct"
    other = decide(two, PROFILES["chrome"], audio_track=2)
    assert (other.mode, other.audio, other.audio_track) == ("remux", "copy", 2)
    with pytest.raises(ValueError, match="audio track"):
        decide(two, PROFILES["chrome"], audio_track=7)


def test_audio_only_and_video_only_files() -> None:
    assert decide(media("mp4", None, ("aac", 2)), PROFILES["chrome"]).mode == "direct"
    silent = decide(media("mkv", "h264"), PROFILES["chrome"])
    assert (silent.mode, silent.audio, silent.variant) == ("remux", None, "copy-none-x")
    assert decide(H264_AC3, PROFILES["chrome"]).variant == "copy-aac-1"


@pytest.mark.parametrize(("info", "profile"), [(FASTSTART, "chrome"), (VP9_OPUS, "firefox"), (AAC_51_MP4, "chrome")])
def test_a_client_without_hls_gets_direct_play_when_the_file_plays_directly(info: MediaInfo, profile: str) -> None:
    ua = {"chrome": CHROME_UA, "firefox": FIREFOX_UA}[profile]
    decision = decide(info, capabilities(ua, hls=False))
    assert (decision.mode, decision.video, decision.audio) == ("direct", "copy", "copy")


@pytest.mark.parametrize(
    ("info", "profile", "needed"),
    [(H264_AC3, "chrome", "remux"), (HEVC_AAC, "safari", "remux"), (HEVC_AAC, "chrome", "transcode"),
     (VP9_OPUS, "default", "transcode"), (AAC_51_MP4, "android", "remux")],
)  # fmt: skip
def test_a_client_without_hls_is_refused_what_only_hls_plays(info: MediaInfo, profile: str, needed: str) -> None:
    assert decide(info, PROFILES[profile]).mode == needed  # with HLS it plays
    with pytest.raises(HlsRequired) as refused:
        decide(info, replace(PROFILES[profile], hls=False))
    assert refused.value.status == 422
    assert refused.value.type_uri.endswith("hls-required")
    assert refused.value.extra == {"needed_mode": needed}
    assert f"needs HLS ({needed})" in str(refused.value)


def test_a_client_without_hls_cannot_pick_another_audio_track() -> None:
    two = media("mp4", "h264", ("aac", 2), ("aac", 2))
    no_hls = capabilities(CHROME_UA, hls=False)
    assert decide(two, no_hls, audio_track=1).mode == "direct"  # the default track, asked for by index
    with pytest.raises(HlsRequired, match="non-default audio track") as refused:
        decide(two, no_hls, audio_track=2)
    assert refused.value.extra == {"needed_mode": "remux"}
