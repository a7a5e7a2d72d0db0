"""What the stream endpoint may let a browser render: an allow-list of media and subtitle types.

Everything else (HTML, SVG, XML, JavaScript, PDF, archives...) is a download: `application/octet-stream`
with `Content-Disposition: attachment` and `nosniff`, so a torrent can never run script on our origin.
"""

from __future__ import annotations

from torrent_streamer.torrents.names import content_disposition

OCTET_STREAM = "application/octet-stream"
INLINE_TYPES = frozenset(
    {
        # video
        "video/mp4",
        "video/webm",
        "video/x-matroska",
        "video/quicktime",
        "video/mp2t",
        "video/mpeg",
        "video/ogg",
        "video/x-msvideo",
        "video/x-ms-wmv",
        "video/x-flv",
        # audio
        "audio/mp4",
        "audio/mpeg",
        "audio/ogg",
        "audio/flac",
        "audio/wav",
        "audio/aac",
        "audio/x-matroska",
        # subtitles (never rendered as documents: text/vtt and the SRT/SSA types have no markup)
        "text/vtt",
        "application/x-subrip",
        "text/x-ssa",
    }
)


def served_headers(name: str, mime: str | None) -> dict[str, str]:
    """`Content-Type`, `Content-Disposition` and `nosniff` for one file of a torrent."""
    if mime in INLINE_TYPES:
        content_type, disposition = mime, "inline"
    else:
        content_type, disposition = OCTET_STREAM, "attachment"
    return {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition(name, disposition),
        "X-Content-Type-Options": "nosniff",
    }
