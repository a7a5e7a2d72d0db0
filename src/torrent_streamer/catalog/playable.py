"""Will a release play on this client? A prediction from parsed codecs and the User-Agent. Pure.

This mirrors the playback decision table (the ``media`` domain's, being written in parallel; the
integrator may make this call that one): **direct** when the container and every codec are
supported by the client; **remux** when the video codec is supported but the container or the
audio is not (copy the video into MP4/HLS, convert the audio); **transcode** when the video codec
is not supported; **unknown** when the name does not say the video codec.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientProfile:
    name: str
    video: frozenset[str]
    audio: frozenset[str]
    containers: frozenset[str]


_WEB_AUDIO = frozenset({"aac", "mp3", "opus", "flac", "vorbis"})
SAFARI = ClientProfile(
    "safari", frozenset({"h264", "hevc"}), frozenset({"aac", "mp3", "ac3", "eac3", "flac"}), frozenset({"mp4"})
)
CHROMIUM = ClientProfile("chromium", frozenset({"h264", "vp9", "av1"}), _WEB_AUDIO, frozenset({"mp4", "webm"}))
FIREFOX = ClientProfile("firefox", frozenset({"h264", "vp9", "av1"}), _WEB_AUDIO, frozenset({"mp4", "webm"}))
# Android's MediaCodec and smart TVs decode HEVC in hardware and demux Matroska.
ANDROID = ClientProfile(
    "android",
    frozenset({"h264", "hevc", "vp9", "av1"}),
    _WEB_AUDIO | {"ac3", "eac3"},
    frozenset({"mp4", "webm", "mkv"}),
)
# Release names seldom say the container: P2P/scene video releases are Matroska unless the name says otherwise.
DEFAULT_CONTAINER = "mkv"


def profile_for(user_agent: str | None) -> ClientProfile:
    ua = (user_agent or "").lower()
    if "android" in ua or "smart-tv" in ua or "smarttv" in ua or "tizen" in ua or "web0s" in ua:
        return ANDROID
    if "firefox/" in ua:
        return FIREFOX
    if ("safari/" in ua and "chrome/" not in ua and "chromium/" not in ua) or "iphone" in ua or "ipad" in ua:
        return SAFARI
    return CHROMIUM


def playable(
    video_codec: str | None, audio_codec: str | None, profile: ClientProfile, container: str | None = None
) -> str:
    """``direct`` | ``remux`` | ``transcode`` | ``unknown`` for one release on one client profile."""
    if video_codec is None:
        return "unknown"
    if video_codec not in profile.video:
        return "transcode"
    audio_ok = audio_codec is None or audio_codec in profile.audio  # unnamed audio: assume the common AAC
    if (container or DEFAULT_CONTAINER) in profile.containers and audio_ok:
        return "direct"
    return "remux"
