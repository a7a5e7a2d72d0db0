"""The playback decision: direct play, HLS remux, or HLS transcode, for one file and one client.

Pure: client capabilities (body fields over a User-Agent profile) and a probe in, a ``Decision`` out.
To add a client profile, add a ``Capabilities`` to ``PROFILES`` and a rule to ``profile_for``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from torrent_streamer.core.errors import Unprocessable
from torrent_streamer.media.probe import AudioTrack, MediaInfo

Mode = Literal["direct", "remux", "transcode"]
# Audio codecs an fMP4 segment can carry as they are (otherwise they are transcoded to AAC).
FMP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"})


class HlsRequired(Unprocessable):
    """Only HLS can play this file (or this audio track) for the client, and it said ``hls: false``."""

    slug, title = "hls-required", "This file needs HLS, which the client does not support"


@dataclass(frozen=True, slots=True)
class Capabilities:
    video_codecs: frozenset[str]
    audio_codecs: frozenset[str]
    containers: frozenset[str]
    hls: bool
    max_audio_channels: int


PROFILES: dict[str, Capabilities] = {
    "safari": Capabilities(
        frozenset({"h264", "hevc"}),
        frozenset({"aac", "mp3", "ac3", "eac3", "alac", "flac"}),
        frozenset({"mp4", "mov"}),
        hls=True,
        max_audio_channels=8,
    ),
    "chrome": Capabilities(
        frozenset({"h264", "vp8", "vp9", "av1"}),
        frozenset({"aac", "mp3", "opus", "vorbis", "flac"}),
        frozenset({"mp4", "webm"}),
        hls=True,
        max_audio_channels=6,
    ),
    "firefox": Capabilities(
        frozenset({"h264", "vp8", "vp9", "av1"}),
        frozenset({"aac", "mp3", "opus", "vorbis", "flac"}),
        frozenset({"mp4", "webm"}),
        hls=True,
        max_audio_channels=6,
    ),
    "android": Capabilities(
        frozenset({"h264", "vp8", "vp9"}),
        frozenset({"aac", "mp3", "opus", "vorbis"}),
        frozenset({"mp4", "webm"}),
        hls=True,
        max_audio_channels=2,
    ),
    "default": Capabilities(
        frozenset({"h264"}), frozenset({"aac", "mp3"}), frozenset({"mp4"}), hls=True, max_audio_channels=2
    ),
}


def profile_for(user_agent: str | None) -> str:
    """The profile name for a User-Agent (order matters: Chrome's UA also says Safari)."""
    ua = (user_agent or "").lower()
    if "android" in ua:
        return "android"
    if "firefox/" in ua:
        return "firefox"
    if "chrome/" in ua or "chromium/" in ua or "edg/" in ua:
        return "chrome"
    if "safari/" in ua or "iphone" in ua or "ipad" in ua:
        return "safari"
    return "default"


def capabilities(
    user_agent: str | None,
    *,
    video_codecs: list[str] | None = None,
    audio_codecs: list[str] | None = None,
    containers: list[str] | None = None,
    hls: bool | None = None,
    max_audio_channels: int | None = None,
) -> Capabilities:
    """Fields the client sent, the User-Agent profile's for the rest."""
    base = PROFILES[profile_for(user_agent)]
    return replace(
        base,
        video_codecs=base.video_codecs if video_codecs is None else frozenset(video_codecs),
        audio_codecs=base.audio_codecs if audio_codecs is None else frozenset(audio_codecs),
        containers=base.containers if containers is None else frozenset(containers),
        hls=base.hls if hls is None else hls,
        max_audio_channels=base.max_audio_channels if max_audio_channels is None else max_audio_channels,
    )


@dataclass(frozen=True, slots=True)
class Decision:
    mode: Mode
    video: Literal["copy", "h264"] | None  # None: no video track
    audio: Literal["copy", "aac"] | None  # None: no audio track
    audio_track: int | None  # stream index of the chosen audio track

    @property
    def variant(self) -> str:
        """The HLS variant name (a path segment): what the encoder does to video and audio."""
        return (
            f"{self.video or 'none'}-{self.audio or 'none'}-{self.audio_track if self.audio_track is not None else 'x'}"
        )


def default_audio(media: MediaInfo) -> AudioTrack | None:
    for track in media.audio:
        if track.default:
            return track
    return media.audio[0] if media.audio else None


def decide(media: MediaInfo, caps: Capabilities, audio_track: int | None = None) -> Decision:
    """The table in docs/streaming.md: direct if everything fits, remux if the video does, else transcode.

    Choosing an audio track other than the file's default rules out direct play (a ``<video>`` plays
    the default one). ``audio_track`` must be a stream index from ``media.audio`` (``ValueError``).
    A client without HLS (``caps.hls`` false) gets ``direct`` or ``HlsRequired``: remux and transcode
    exist only as HLS, and there is no progressive fallback.
    """
    chosen = default_audio(media)
    if audio_track is not None:
        chosen = next((t for t in media.audio if t.index == audio_track), None)
        if chosen is None:
            raise ValueError("no such audio track")
    picked_other = chosen is not None and chosen is not default_audio(media)
    video = media.video[0] if media.video else None
    mode = mode_for(
        video.codec if video else None,
        chosen.codec if chosen else None,
        media.container,
        caps,
        chosen.channels if chosen else 0,
    )
    index = chosen.index if chosen is not None else None
    if mode == "direct" and not picked_other:
        return Decision("direct", "copy" if video else None, "copy" if chosen else None, index)
    if not caps.hls:
        what = "A non-default audio track needs HLS" if mode == "direct" else f"This file needs HLS ({mode})"
        raise HlsRequired(
            f"{what}, which the client said it does not support.",
            extra={"needed_mode": "remux" if mode == "direct" else mode},
        )
    audio: Literal["copy", "aac"] | None = None
    if chosen is not None:
        audio = "copy" if audio_fits(chosen.codec, chosen.channels, caps) and chosen.codec in FMP4_AUDIO else "aac"
    if mode != "transcode":
        return Decision("remux", "copy" if video else None, audio, index)
    return Decision("transcode", "h264", audio, index)


def audio_fits(codec: str, channels: int, caps: Capabilities) -> bool:
    return codec in caps.audio_codecs and channels <= caps.max_audio_channels


def mode_for(video: str | None, audio: str | None, container: str, caps: Capabilities, channels: int = 2) -> Mode:
    """The decision table on codec names alone (``None``: no such track); the catalog's prediction too."""
    video_ok = video is None or video in caps.video_codecs
    audio_ok = audio is None or audio_fits(audio, channels, caps)
    if video_ok and audio_ok and container in caps.containers:
        return "direct"
    return "remux" if video_ok else "transcode"
