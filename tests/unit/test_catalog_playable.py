"""The playable prediction per client profile and the health score: pure rules."""

from __future__ import annotations

import pytest

from torrent_streamer.catalog.health import health_score, health_weight
from torrent_streamer.catalog.playable import ANDROID, CHROMIUM, SAFARI, playable, profile_for


@pytest.mark.parametrize(
    ("video", "audio", "container", "profile", "expected"),
    [
        ("h264", "aac", "mp4", CHROMIUM, "direct"),
        ("h264", "aac", None, CHROMIUM, "remux"),  # Matroska assumed: not a browser container
        ("h264", "ac3", "mp4", CHROMIUM, "remux"),  # audio not supported
        ("hevc", "aac", "mp4", CHROMIUM, "transcode"),
        ("hevc", "aac", "mp4", SAFARI, "direct"),
        ("hevc", "eac3", None, ANDROID, "direct"),
        ("xvid", "mp3", "avi", ANDROID, "transcode"),
        (None, "aac", "mp4", CHROMIUM, "unknown"),
    ],
)
def test_playable_follows_the_decision_table(
    video: str | None, audio: str | None, container: str | None, profile: object, expected: str
) -> None:
    assert playable(video, audio, profile, container) == expected  # type: ignore[arg-type]


def test_profiles_from_user_agents() -> None:
    assert profile_for("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) AppleWebKit/605 Mobile Safari/604.1") is SAFARI
    assert profile_for("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537 Chrome/120 Mobile Safari/537") is ANDROID
    assert profile_for("Mozilla/5.0 (X11; Linux) AppleWebKit/537 Chrome/120 Safari/537") is CHROMIUM
    assert profile_for(None) is CHROMIUM


def test_health_is_zero_for_dead_swarms_and_grows_with_seeders() -> None:
    assert health_score(0, 500) == 0
    scores = [health_score(s, 0) for s in (1, 10, 100, 1000, 100000)]
    assert scores == sorted(scores)
    assert scores[0] > 0
    assert scores[-1] == 1000
    assert health_weight(0) == 0.25
    assert health_weight(1000) == 1.0
