"""HLS VOD playlists for one file and variant: segment boundaries, master and media playlists.

Pure. Copied video is cut on the source's keyframes (about ``target`` seconds apart); transcoded
video on a fixed grid, with keyframes forced at each boundary by the encoder.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

VARIANT = re.compile(r"^(copy|h264|none)-(copy|aac|none)-(\d{1,4}|x)$")


@dataclass(frozen=True, slots=True)
class Segment:
    index: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def keyframe_segments(keyframes: tuple[float, ...], duration: float, target: float) -> list[Segment]:
    """Segments starting on keyframes: each boundary is the first keyframe at least ``target`` after the last."""
    end_of_media = max(duration, keyframes[-1] if keyframes else 0.0)
    starts: list[float] = []
    for kf in keyframes:
        if kf >= end_of_media:
            break
        if not starts or kf - starts[-1] >= target - 1e-6:
            starts.append(kf)
    if not starts:
        starts = [0.0]
    ends = [*starts[1:], end_of_media]
    return [Segment(i, s, e) for i, (s, e) in enumerate(zip(starts, ends, strict=True)) if e > s]


def grid_segments(start: float, duration: float, target: float) -> list[Segment]:
    """Fixed ``target``-second segments from ``start`` to ``duration`` (the last one shorter)."""
    count = max(1, math.ceil((duration - start) / target - 1e-9))
    return [Segment(i, start + i * target, min(duration, start + (i + 1) * target)) for i in range(count)]


def media_playlist(segments: list[Segment]) -> str:
    """A VOD playlist listing every segment at once (the seek bar works immediately)."""
    target = max(1, math.ceil(max(s.duration for s in segments)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-MAP:URI="init.mp4"',
    ]
    for s in segments:
        lines += [f"#EXTINF:{s.duration:.6f},", f"{s.index}.m4s"]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def subtitle_playlist(duration: float, uri: str) -> str:
    """A one-segment WebVTT playlist (the whole track as one file)."""
    target = max(1, math.ceil(duration))
    return (
        f"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        f"#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:{duration:.6f},\n{uri}\n#EXT-X-ENDLIST\n"
    )


@dataclass(frozen=True, slots=True)
class SubtitleRendition:
    name: str
    language: str | None
    uri: str  # the subtitle playlist


def _quoted(text: str) -> str:
    return '"' + re.sub(r'["\r\n\x00-\x1f]', "", text)[:100] + '"'


def master_playlist(
    bandwidth: int, codecs: str | None, resolution: str | None, subtitles: list[SubtitleRendition]
) -> str:
    """One variant stream plus a subtitle group (``SUBTITLES="subs"``) when there are text tracks."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for i, sub in enumerate(subtitles):
        attrs = [
            "TYPE=SUBTITLES",
            'GROUP-ID="subs"',
            f"NAME={_quoted(sub.name)}",
            "DEFAULT=NO",
            f"AUTOSELECT={'YES' if i == 0 else 'NO'}",
            f"URI={_quoted(sub.uri)}",
        ]
        if sub.language:
            attrs.insert(3, f"LANGUAGE={_quoted(sub.language)}")
        lines.append("#EXT-X-MEDIA:" + ",".join(attrs))
    inf = [f"BANDWIDTH={max(1, bandwidth)}"]
    if codecs:
        inf.append(f'CODECS="{codecs}"')
    if resolution:
        inf.append(f"RESOLUTION={resolution}")
    if subtitles:
        inf.append('SUBTITLES="subs"')
    lines += ["#EXT-X-STREAM-INF:" + ",".join(inf), "video.m3u8"]
    return "\n".join(lines) + "\n"
