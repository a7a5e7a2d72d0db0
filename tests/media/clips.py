"""Real test media made by Debian's ffmpeg (``/usr/bin/ffmpeg``): five 20-second clips, small and fast,
and H.264/AAC clips carrying one subtitle track each (ASS, mov_text, PGS, VobSub) plus an ``.ass`` file.

320x180 at 24 fps, a keyframe every 2 s, software encoders at their fastest presets; the SRT track's
cue texts are known so tests can look for them in the WebVTT output. ffmpeg converts text subtitles
only to text and bitmaps only to bitmaps, so the PGS track starts from a tiny ``.sup`` written here
(``pgs_sup``) and the VobSub track is ffmpeg's ``dvdsub`` encoding of that.
"""

from __future__ import annotations

import json
import struct
import subprocess  # nosec B404  # tests run Debian's ffmpeg/ffprobe with fixed arguments
from dataclasses import dataclass
from pathlib import Path

FFMPEG = "/usr/bin/ffmpeg"
FFPROBE = "/usr/bin/ffprobe"
SECONDS = 20
CUES = ("Hello from the clip", "Second cue here")
SRT = f"1\n00:00:01,000 --> 00:00:04,000\n{CUES[0]}\n\n2\n00:00:10,000 --> 00:00:13,000\n{CUES[1]}\n"

_SOURCES = [
    "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=24:duration={SECONDS}",
    "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}:sample_rate=48000",
]  # fmt: skip
_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "48", "-pix_fmt", "yuv420p"]
_AAC = ["-c:a", "aac", "-b:a", "64k", "-ac", "2"]


@dataclass(frozen=True)
class Clip:
    name: str  # file name inside the torrent
    video: str
    audio: str
    container: str
    args: tuple[str, ...]


CLIPS: dict[str, Clip] = {
    c.name: c
    for c in [
        Clip("faststart.mp4", "h264", "aac", "mp4", (*_H264, *_AAC, "-movflags", "+faststart")),
        Clip("moov-at-end.mp4", "h264", "aac", "mp4", (*_H264, *_AAC)),
        Clip(
            "h264-ac3.mkv", "h264", "ac3", "mkv",
            ("-filter_complex", "[1:a]pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0[a]",
             "-map", "0:v", "-map", "[a]", "-map", "2:s", *_H264, "-c:a", "ac3", "-b:a", "192k",
             "-c:s", "srt", "-metadata:s:s:0", "language=eng"),
        ),
        Clip("hevc-aac.mkv", "hevc", "aac", "mkv",
             ("-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=48:log-level=error",
              "-pix_fmt", "yuv420p", *_AAC)),
        Clip("vp9-opus.webm", "vp9", "opus", "webm",
             ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "48", "-b:v", "200k",
              "-c:a", "libopus", "-b:a", "48k")),
    ]
}  # fmt: skip


@dataclass(frozen=True)
class SubtitleClip:
    name: str
    codec: str  # the track's decoder, as the probe (PyAV) names it; ffprobe says ass, hdmv_pgs_subtitle, dvd_subtitle
    language: str
    text: bool  # converts to WebVTT
    source: str  # "srt" (the cues) or "sup" (the PGS bitmaps)
    args: tuple[str, ...]


SUBTITLE_CLIPS: dict[str, SubtitleClip] = {
    c.name: c
    for c in [
        SubtitleClip("ass.mkv", "ssa", "fre", True, "srt", ("-c:s", "ass")),
        SubtitleClip("mov-text.mp4", "mov_text", "ger", True, "srt", ("-c:s", "mov_text")),
        SubtitleClip("pgs.mkv", "pgssub", "spa", False, "sup", ("-c:s", "copy")),
        SubtitleClip("dvdsub.mkv", "dvdsub", "ita", False, "sup", ("-c:s", "dvdsub")),
    ]
}
ASS_FILE = "extra.ass"  # the cues as an ASS subtitle file beside the clips


def _pgs_segment(pts: int, kind: int, payload: bytes) -> bytes:
    return b"PG" + struct.pack(">IIBH", pts, 0, kind, len(payload)) + payload


def _pgs_display_set(pts: int, number: int, show: bool) -> bytes:
    """One PGS display set (composition, window, palette, object, end); ``show`` false clears the screen."""
    width, height, box_w, box_h = 320, 180, 64, 16
    pcs = struct.pack(">HHBHBBBB", width, height, 0x10, number, 0x80 if show else 0x00, 0, 0, 1 if show else 0)
    if show:
        pcs += struct.pack(">HBBHH", 0, 0, 0, 16, height - 40)
    out = _pgs_segment(pts, 0x16, pcs)
    out += _pgs_segment(pts, 0x17, struct.pack(">BBHHHH", 1, 0, 16, height - 40, box_w, box_h))
    if show:
        out += _pgs_segment(pts, 0x14, struct.pack(">BB", 0, 0) + bytes([1, 235, 128, 128, 255]))
        rle = bytes([0x00, 0xC0 | (box_w >> 8), box_w & 0xFF, 0x01, 0x00, 0x00]) * box_h  # rows of colour 1
        size = (len(rle) + 4).to_bytes(3, "big")
        out += _pgs_segment(pts, 0x15, struct.pack(">HBB", 0, 0, 0xC0) + size + struct.pack(">HH", box_w, box_h) + rle)
    return out + _pgs_segment(pts, 0x80, b"")


def pgs_sup() -> bytes:
    """A two-display-set PGS stream (a white box from 1 s, cleared at 4 s), as Blu-ray ``.sup`` files hold."""
    return _pgs_display_set(90_000 * 1, 0, True) + _pgs_display_set(90_000 * 4, 1, False)


def make_subtitle_clips(folder: Path) -> dict[str, Path]:
    """The subtitle clips and ``ASS_FILE``, by name."""
    folder.mkdir(parents=True, exist_ok=True)
    srt, sup = folder / "cues.srt", folder / "boxes.sup"
    srt.write_text(SRT)
    sup.write_bytes(pgs_sup())
    out: dict[str, Path] = {}
    for clip in SUBTITLE_CLIPS.values():
        path = folder / clip.name
        subtitle = srt if clip.source == "srt" else sup
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *_SOURCES, "-i", str(subtitle),
               "-map", "0:v", "-map", "1:a", "-map", "2:s", *_H264, *_AAC, *clip.args,
               "-metadata:s:s:0", f"language={clip.language}", str(path)]  # fmt: skip
        subprocess.run(cmd, check=True, timeout=300)  # nosec B603  # fixed ffmpeg/ffprobe argument lists, no shell
        out[clip.name] = path
    ass = folder / ASS_FILE
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", str(srt), str(ass)]
    subprocess.run(cmd, check=True, timeout=60)  # nosec B603  # fixed ffmpeg/ffprobe argument lists, no shell
    out[ASS_FILE] = ass
    return out


def make_clips(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    srt = folder / "cues.srt"
    srt.write_text(SRT)
    out: dict[str, Path] = {}
    for clip in CLIPS.values():
        path = folder / clip.name
        inputs = [*_SOURCES, "-i", str(srt)] if "2:s" in clip.args else _SOURCES
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *inputs, *clip.args, str(path)]
        subprocess.run(cmd, check=True, timeout=300)  # nosec B603  # fixed ffmpeg/ffprobe argument lists, no shell
        out[clip.name] = path
    return out


def ffprobe(path: Path | str) -> dict[str, object]:
    """ffprobe's JSON for streams and format (raises when ffprobe cannot read the input)."""
    cmd = [FFPROBE, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)]
    done = subprocess.run(cmd, check=True, capture_output=True, timeout=60)  # nosec B603  # fixed ffmpeg/ffprobe argument lists, no shell
    result: dict[str, object] = json.loads(done.stdout)
    return result


def decodes(path: Path | str) -> bool:
    """True when ffmpeg decodes every frame of ``path`` without an error."""
    cmd = [FFMPEG, "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"]
    done = subprocess.run(cmd, capture_output=True, timeout=120)  # nosec B603  # fixed ffmpeg/ffprobe argument lists, no shell
    return done.returncode == 0 and not done.stderr.strip()


def first_video_time(path: Path | str) -> float:
    cmd = [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
           "-read_intervals", "%+#1", "-of", "csv=p=0", str(path)]  # fmt: skip
    done = subprocess.run(cmd, check=True, capture_output=True, timeout=60)  # nosec B603  # fixed ffmpeg/ffprobe argument lists, no shell
    return float(done.stdout.decode().split()[0])
