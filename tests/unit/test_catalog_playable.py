"""The playable prediction per client profile and the health score: pure rules."""

from __future__ import annotations

import pytest

from torrent_streamer.catalog.health import health_score, health_weight
from torrent_streamer.catalog.playable import ANDROID, CHROMIUM, SAFARI, playable, profile_for
from torrent_streamer.media.decision import PROFILES, decide
from torrent_streamer.media.probe import AudioTrack, MediaInfo, VideoTrack


@pytest.mark.parametrize(
    ("video", "audio", "container", "channels", "profile", "expected"),
    [
        ("h264", "aac", "mp4", None, CHROMIUM, "direct"),
        ("h264", "aac", None, None, CHROMIUM, "remux"),  # Matroska assumed: not a browser container
        ("h264", "ac3", "mp4", None, CHROMIUM, "remux"),  # audio not supported
        ("h264", "aac", "mp4", "7.1", CHROMIUM, "remux"),  # more channels than the profile takes
        ("hevc", "aac", "mp4", None, CHROMIUM, "transcode"),
        ("hevc", "aac", "mp4", None, SAFARI, "direct"),
        ("hevc", "eac3", None, None, SAFARI, "remux"),  # HEVC into fMP4 HLS for Apple devices
        ("hevc", "eac3", None, None, ANDROID, "transcode"),  # the playback decision's Android: no HEVC
        ("xvid", "mp3", "avi", None, ANDROID, "transcode"),
        (None, "aac", "mp4", None, CHROMIUM, "unknown"),
    ],
)
def test_playable_follows_the_decision_table(
    video: str | None, audio: str | None, container: str | None, channels: str | None, profile: object,
    expected: str,
) -> None:  # fmt: skip
    assert playable(video, audio, profile, container, channels) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("video", ["h264", "hevc", "vp9", "av1", "mpeg4"])
@pytest.mark.parametrize("audio", ["aac", "ac3", "eac3", "dts", "opus", "flac", None])
@pytest.mark.parametrize(("container", "channels"), [("mkv", "5.1"), ("mp4", None), ("webm", "2.0")])
def test_the_badge_is_what_the_playback_api_will_answer(
    profile: str, video: str, audio: str | None, container: str, channels: str | None
) -> None:
    """Issue 16 item 4: the prediction and the playback decision are one rule."""
    count = {"5.1": 6, "2.0": 2, None: 2}[channels]
    media = MediaInfo(
        container=container,
        format_name=container,
        duration=60.0,
        start_time=0.0,
        video=(VideoTrack(0, video, None, 1920, 1080),),
        audio=() if audio is None else (AudioTrack(1, audio, None, count, "en", None, True),),
    )
    caps = PROFILES[profile]
    assert playable(video, audio, caps, container, channels) == decide(media, caps).mode


def test_profiles_from_user_agents() -> None:
    assert profile_for("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) AppleWebKit/605 Mobile Safari/604.1") == SAFARI
    assert profile_for("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537 Chrome/120 Mobile Safari/537") == ANDROID
    assert profile_for("Mozilla/5.0 (X11; Linux) AppleWebKit/537 Chrome/120 Safari/537") == CHROMIUM
    assert profile_for(None) == PROFILES["default"]


def test_health_is_zero_for_dead_swarms_and_grows_with_seeders() -> None:
    assert health_score(0, 500) == 0
    scores = [health_score(s, 0) for s in (1, 10, 100, 1000, 100000)]
    assert scores == sorted(scores)
    assert scores[0] > 0
    assert scores[-1] == 1000
    assert health_weight(0) == 0.25
    assert health_weight(1000) == 1.0
