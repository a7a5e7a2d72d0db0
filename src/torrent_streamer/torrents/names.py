"""File names from torrents made safe to display and to put in ``Content-Disposition`` (RFC 6266).

Names never become filesystem paths here; they only reach JSON and one response header.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME_LENGTH = 255
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()\[\]+-]")
# RFC 5987 attr-char minus alphanumerics: what may stay unescaped in filename*.
_ATTR_SAFE = "!#$&+-.^_`|~"


def display_name(name: str) -> str:
    """Control, zero-width and bidi-override characters removed, NFC, length bounded."""
    cleaned = _UNSAFE.sub("", unicodedata.normalize("NFC", name)).strip()
    return cleaned[:MAX_NAME_LENGTH] or "file"


def base_name(name: str) -> str:
    """The last path component (either separator), cleaned for display."""
    last = re.split(r"[/\\]", name)[-1]
    cleaned = display_name(last).replace('"', "'")
    return "file" if cleaned in ("", ".", "..") else cleaned


def ascii_fallback(name: str) -> str:
    """An ASCII-only approximation for old clients: accents dropped, the rest replaced by ``_``."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    safe = _ASCII_UNSAFE.sub("_", folded).strip(" .")
    return safe[:MAX_NAME_LENGTH] or "file"


def content_disposition(name: str, disposition: str = "inline") -> str:
    """``inline; filename="ascii"; filename*=UTF-8''percent-encoded`` with no CR/LF/quotes/paths."""
    base = base_name(name)
    encoded = quote(base, safe=_ATTR_SAFE)
    return f"{disposition}; filename=\"{ascii_fallback(base)}\"; filename*=UTF-8''{encoded}"
