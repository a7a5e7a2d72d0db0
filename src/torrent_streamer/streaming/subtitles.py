"""Subtitle files from a torrent as WebVTT: SRT converted, VTT validated, encoding detected.

Pure functions over bytes; the caller bounds the input by ``MAX_SUBTITLE_BYTES`` before reading it all.
"""

from __future__ import annotations

import codecs
import re

MAX_SUBTITLE_BYTES = 2 * 1024 * 1024
SUBTITLE_EXTENSIONS = (".srt", ".vtt")

_SRT_TIMING = re.compile(
    r"^\s*(\d{1,3}):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*(\d{1,3}):(\d{2}):(\d{2})[,.](\d{1,3})(.*)$"
)
_VTT_SIGNATURE = re.compile(r"^WEBVTT(?:[ \t].*)?$")
# C0/C1 controls other than tab and newline, and bidi overrides, never reach a cue.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class SubtitleError(ValueError):
    """The file is not a subtitle we can serve (too big, not SRT/VTT, malformed)."""


def decode_text(data: bytes) -> str:
    """BOM (UTF-8/16/32) first, then strict UTF-8, then cp1252, then latin-1 (never fails)."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _lines(text: str) -> list[str]:
    return [_UNSAFE.sub("", line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _timestamp(h: str, m: str, s: str, ms: str) -> str:
    return f"{int(h):02d}:{m}:{s}.{ms.ljust(3, '0')}"


def srt_to_vtt(data: bytes) -> str:
    """Convert SubRip to WebVTT: timings get dots, cue text keeps its lines, numbers become ids."""
    if len(data) > MAX_SUBTITLE_BYTES:
        raise SubtitleError("subtitle file too large")
    out = ["WEBVTT", ""]
    cues = 0
    for line in _lines(decode_text(data)):
        match = _SRT_TIMING.match(line)
        if match:
            g = match.groups()
            settings = g[8].strip()
            timing = f"{_timestamp(*g[0:4])} --> {_timestamp(*g[4:8])}"
            out.append(f"{timing} {settings}".rstrip() if "-->" not in settings else timing)
            cues += 1
        else:
            out.append(line.replace("-->", "->"))
    if cues == 0:
        raise SubtitleError("no subtitle cues found")
    return "\n".join(out).rstrip("\n") + "\n"


def validate_vtt(data: bytes) -> str:
    """A WebVTT file passed through after checking its signature line and stripping control chars."""
    if len(data) > MAX_SUBTITLE_BYTES:
        raise SubtitleError("subtitle file too large")
    lines = _lines(decode_text(data))
    if not lines or not _VTT_SIGNATURE.match(lines[0].lstrip("\ufeff")):
        raise SubtitleError("not a WebVTT file")
    lines[0] = lines[0].lstrip("\ufeff")
    return "\n".join(lines).rstrip("\n") + "\n"


def to_webvtt(name: str, data: bytes) -> str:
    """Dispatch on the file's extension (``.srt`` or ``.vtt``)."""
    lowered = name.lower()
    if lowered.endswith(".srt"):
        return srt_to_vtt(data)
    if lowered.endswith(".vtt"):
        return validate_vtt(data)
    raise SubtitleError("not a subtitle file")


def is_subtitle(name: str) -> bool:
    return name.lower().endswith(SUBTITLE_EXTENSIONS)
