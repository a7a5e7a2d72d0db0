"""Probe a file through the engine: container, duration, tracks, and the video keyframe index.

PyAV (libavformat in-process) reads the loopback URL, so only the header and index pieces
(MP4 ``moov``, Matroska cues) are fetched, at the engine's top priority for a reader's head and tail.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

import av

TEXT_SUBTITLE_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"})
MAX_KEYFRAMES = 200_000


class ProbeError(Exception):
    """The file could not be opened as media (not a container libavformat knows, or no streams)."""


@dataclass(frozen=True, slots=True)
class VideoTrack:
    index: int  # stream index in the container
    codec: str
    profile: str | None
    width: int
    height: int
    b_frames: bool = False  # reordered frames: ffmpeg's seek backs off, copied cuts need slack


@dataclass(frozen=True, slots=True)
class AudioTrack:
    index: int
    codec: str
    profile: str | None
    channels: int
    language: str | None
    title: str | None
    default: bool


@dataclass(frozen=True, slots=True)
class SubtitleTrack:
    index: int
    codec: str
    language: str | None
    title: str | None
    text: bool  # converts to WebVTT (SRT, ASS/SSA, mov_text, WebVTT); PGS/VobSub do not


@dataclass(frozen=True, slots=True)
class MediaInfo:
    container: str  # our short name: mp4, mkv, webm, avi, ts, …
    format_name: str  # libavformat's
    duration: float
    start_time: float
    video: tuple[VideoTrack, ...] = ()
    audio: tuple[AudioTrack, ...] = ()
    subtitles: tuple[SubtitleTrack, ...] = ()
    keyframes: tuple[float, ...] = field(default=(), repr=False)  # seconds, ascending, first video track


def container_name(format_name: str, file_name: str) -> str:
    """A short container name from libavformat's format list and the file's extension."""
    ext = posixpath.splitext(file_name.lower())[1].lstrip(".")
    if format_name.startswith("mov,mp4"):
        return "mov" if ext == "mov" else "mp4"
    if format_name.startswith("matroska"):
        return "webm" if ext == "webm" else "mkv"
    return format_name.split(",")[0]


def _language(stream: Any) -> str | None:
    lang = stream.metadata.get("language") or stream.language
    return None if not lang or lang == "und" else str(lang)[:16]


def _title(stream: Any) -> str | None:
    title = stream.metadata.get("title") or stream.metadata.get("handler_name")
    if not title or title in ("VideoHandler", "SoundHandler", "SubtitleHandler"):
        return None
    return str(title)[:200]


def _keyframes(container: Any, stream: Any) -> tuple[float, ...]:
    # Matroska reads its cues lazily, on the first seek.
    container.seek(0, stream=stream)
    base = stream.time_base
    times: list[float] = []
    for entry in stream.index_entries:
        if entry.is_keyframe:
            times.append(float(entry.timestamp * base))
            if len(times) >= MAX_KEYFRAMES:
                break
    return tuple(sorted(set(times)))


def probe_url(url: str, file_name: str, timeout: float) -> MediaInfo:
    """Blocking: run in a worker thread. Raises ``ProbeError`` for non-media input."""
    try:
        container = av.open(url, timeout=timeout)
    except (av.FFmpegError, OSError) as exc:
        raise ProbeError(str(exc)) from exc
    try:
        return _describe(container, file_name)
    except av.FFmpegError as exc:
        raise ProbeError(str(exc)) from exc
    finally:
        container.close()


def _describe(container: Any, file_name: str) -> MediaInfo:
    video, audio, subtitles = [], [], []
    for s in container.streams:
        cc = s.codec_context
        if s.type == "video" and not s.disposition & av.stream.Disposition.attached_pic:
            video.append(VideoTrack(s.index, cc.name, s.profile, cc.width, cc.height, cc.has_b_frames > 0))
        elif s.type == "audio":
            default = bool(s.disposition & av.stream.Disposition.default)
            audio.append(AudioTrack(s.index, cc.name, s.profile, cc.channels, _language(s), _title(s), default))
        elif s.type == "subtitle":
            name = cc.name
            subtitles.append(SubtitleTrack(s.index, name, _language(s), _title(s), name in TEXT_SUBTITLE_CODECS))
    if not video and not audio:
        raise ProbeError("no audio or video stream")
    duration = container.duration / 1_000_000 if container.duration else 0.0
    start = container.start_time / 1_000_000 if container.start_time else 0.0
    keyframes: tuple[float, ...] = ()
    if video:
        keyframes = _keyframes(container, container.streams[video[0].index])
    return MediaInfo(
        container=container_name(container.format.name, file_name),
        format_name=container.format.name,
        duration=max(0.0, duration),
        start_time=start,
        video=tuple(video),
        audio=tuple(audio),
        subtitles=tuple(subtitles),
        keyframes=keyframes,
    )
