"""Request and response models of playback: client capabilities in, the decision and its URLs out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CodecName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,31}$")]


class PlaybackRequest(BaseModel):
    """What the client can play. Every field is optional: the User-Agent's profile fills the rest."""

    model_config = ConfigDict(extra="forbid", strict=True)

    video_codecs: list[CodecName] | None = Field(None, max_length=32, examples=[["h264", "vp9"]])
    audio_codecs: list[CodecName] | None = Field(None, max_length=32, examples=[["aac", "opus"]])
    containers: list[CodecName] | None = Field(None, max_length=16, examples=[["mp4", "webm"]])
    hls: bool | None = Field(
        None,
        description=(
            "Whether the client plays HLS. With `false` the answer is `direct`, or 422 `hls-required` (with"
            " `needed_mode`) when the file needs `remux` or `transcode` or the body names a non-default"
            " `audio_track`: those exist only as HLS. Missing: the User-Agent's profile decides (every profile"
            " plays HLS)."
        ),
    )
    max_audio_channels: int | None = Field(None, ge=1, le=32)
    audio_track: int | None = Field(None, ge=0, le=10_000, description="Stream index from `audio_tracks`.")


class VideoTrackPublic(BaseModel):
    index: int
    codec: str
    profile: str | None
    width: int
    height: int


class AudioTrackPublic(BaseModel):
    index: int
    codec: str
    profile: str | None
    channels: int
    language: str | None
    label: str
    default: bool
    selected: bool


class SubtitleTrackPublic(BaseModel):
    index: int
    codec: str
    language: str | None
    label: str
    convertible: bool


class MediaPublic(BaseModel):
    container: str
    duration_seconds: float
    video: list[VideoTrackPublic]
    audio: list[AudioTrackPublic]
    subtitles: list[SubtitleTrackPublic]


class SubtitlePublic(BaseModel):
    language: str | None
    label: str
    url: str | None = Field(description="WebVTT; null for image subtitles (PGS, VobSub), which cannot convert.")
    convertible: bool
    source: Literal["embedded", "file"]


class PlaybackPublic(BaseModel):
    mode: Literal["direct", "remux", "transcode"]
    url: str = Field(description="The raw stream (direct) or an HLS master playlist (remux, transcode).")
    expires_at: datetime
    duration_seconds: float
    media: MediaPublic
    audio_tracks: list[AudioTrackPublic]
    subtitles: list[SubtitlePublic]
