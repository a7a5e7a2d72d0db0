"""Will a release play on this client? A prediction from parsed codecs and the User-Agent. Pure.

The rules are the playback decision's own (``media.decision.mode_for`` with the same User-Agent
profiles), so a release's badge says what ``POST …/playback`` will answer once the file is probed:
**direct** when the container and every codec are supported by the client; **remux** when the video
codec is supported but the container or the audio is not; **transcode** when the video codec is not
supported; **unknown** when the name does not say the video codec.
"""

from __future__ import annotations

from torrent_streamer.media.decision import PROFILES, Capabilities, capabilities, mode_for

ClientProfile = Capabilities
SAFARI = PROFILES["safari"]
CHROMIUM = PROFILES["chrome"]
FIREFOX = PROFILES["firefox"]
ANDROID = PROFILES["android"]
# Release names seldom say the container: P2P/scene video releases are Matroska unless the name says otherwise.
DEFAULT_CONTAINER = "mkv"
# What a name's channel layout means in channels ("5.1" → 6); unnamed: stereo.
_CHANNELS = {"1.0": 1, "2.0": 2, "2.1": 3, "5.1": 6, "6.1": 7, "7.1": 8}


def profile_for(user_agent: str | None) -> ClientProfile:
    """The playback decision's profile for this User-Agent."""
    return capabilities(user_agent)


def playable(
    video_codec: str | None,
    audio_codec: str | None,
    profile: ClientProfile,
    container: str | None = None,
    audio_channels: str | None = None,
) -> str:
    """``direct`` | ``remux`` | ``transcode`` | ``unknown`` for one release on one client profile."""
    if video_codec is None:
        return "unknown"
    channels = _CHANNELS.get(audio_channels or "", 2)
    return mode_for(video_codec, audio_codec, container or DEFAULT_CONTAINER, profile, channels)
