"""Media helpers: MIME types from extensions, display-name sanitising, MP4 box walking.

Pure functions; `find_moov` tells the engine which byte range of an MP4 to fetch first.
"""

from __future__ import annotations

import mimetypes
import posixpath
import struct
import unicodedata
from dataclasses import dataclass

_MIME_TABLE: dict[str, str] = {
    ".mkv": "video/x-matroska",
    ".mka": "audio/x-matroska",
    ".webm": "video/webm",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".m4a": "audio/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".ts": "video/mp2t",
    ".m2ts": "video/mp2t",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".ogv": "video/ogg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".aac": "audio/aac",
    ".wmv": "video/x-ms-wmv",
    ".flv": "video/x-flv",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
    ".ass": "text/x-ssa",
    ".ssa": "text/x-ssa",
    ".sub": "text/plain",
    ".nfo": "text/plain",
    ".txt": "text/plain",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
MP4_EXTENSIONS = frozenset({".mp4", ".m4v", ".m4a", ".mov"})
MAX_DISPLAY_COMPONENT = 255


def guess_mime(name: str) -> str:
    """MIME type from the file extension; `application/octet-stream` when unknown."""
    ext = posixpath.splitext(name.lower())[1]
    if ext in _MIME_TABLE:
        return _MIME_TABLE[ext]
    guessed, _ = mimetypes.guess_type("x" + ext, strict=False)
    return guessed or "application/octet-stream"


def is_streamable(mime: str) -> bool:
    """Video and audio files can be streamed to the player."""
    return mime.startswith(("video/", "audio/"))


def display_name(path: str) -> str:
    """A display path: printable characters only, `/` separators, no `.`/`..` parts."""
    cleaned = "".join(c if unicodedata.category(c)[0] != "C" else "_" for c in path.replace("\\", "/"))
    parts = [p[:MAX_DISPLAY_COMPONENT] for p in cleaned.split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "_"


@dataclass(frozen=True, slots=True)
class Box:
    """A top-level ISO-BMFF box: 4-char type and its [start, end) byte range."""

    kind: str
    start: int
    end: int


def parse_box_header(data: bytes, start: int, file_size: int) -> Box | None:
    """Parse the box header in `data` (bytes read at `start`); None if malformed."""
    if len(data) < 8:
        return None
    size, raw = struct.unpack(">I4s", data[:8])
    if size == 1:
        if len(data) < 16:
            return None
        (size,) = struct.unpack(">Q", data[8:16])
        if size < 16:
            return None
    elif size == 0:
        size = file_size - start
    elif size < 8:
        return None
    end = start + size
    if end > file_size:
        return None
    return Box(raw.decode("latin-1"), start, end)


MAX_TOP_LEVEL_BOXES = 32
