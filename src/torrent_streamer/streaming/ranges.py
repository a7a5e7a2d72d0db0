"""Pure parsing of ``Range`` and ``If-Range`` (RFC 9110 §14) for one file of known size.

Bounded: header length and range count are capped; overlapping ranges are coalesced; one range is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

MAX_RANGE_HEADER_LENGTH = 1024
MAX_RANGES = 16


@dataclass(frozen=True, slots=True)
class ByteRange:
    """An inclusive byte range ``start..end`` inside a file of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class RangeNotSatisfiableError(ValueError):
    """No requested range overlaps the file (or the header is hostile): answer 416 ``bytes */size``."""

    def __init__(self, size: int) -> None:
        super().__init__("range not satisfiable")
        self.size = size

    @property
    def content_range(self) -> str:
        return f"bytes */{self.size}"


def _parse_int(text: str) -> int | None:
    text = text.strip(" \t")
    if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    return int(text)


def _spec(spec: str, size: int) -> tuple[int, int] | bool | None:
    """One range-spec: ``(start, end)`` clamped, ``None`` if unsatisfiable, ``False`` if malformed."""
    first, sep, last = spec.partition("-")
    if not sep:
        return False
    if first.strip(" \t") == "":  # suffix: bytes=-N
        suffix = _parse_int(last)
        if suffix is None:
            return False
        if suffix == 0 or size == 0:
            return None
        return max(0, size - suffix), size - 1
    start = _parse_int(first)
    if start is None:
        return False
    if last.strip(" \t") == "":
        end = size - 1
    else:
        parsed = _parse_int(last)
        if parsed is None or parsed < start:
            return False
        end = min(parsed, size - 1)
    if start >= size:
        return None
    return start, end


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range to serve, or ``None`` to serve the whole file with 200.

    Rules: no header, another unit, or a malformed specifier → ``None`` (RFC 9110 lets a server
    ignore Range). More than ``MAX_RANGES`` specs or a header over ``MAX_RANGE_HEADER_LENGTH``
    characters → 416 (hostile). No satisfiable spec → 416. Several satisfiable specs are sorted
    and coalesced when they overlap or touch; if more than one remains, only the lowest is served
    (a single-part 206: players never send multi-range, and no multipart body can amplify).
    """
    if header is None:
        return None
    if len(header) > MAX_RANGE_HEADER_LENGTH:
        raise RangeNotSatisfiableError(size)
    unit, sep, specs_text = header.partition("=")
    if not sep or unit.strip(" \t").lower() != "bytes":
        return None
    specs = specs_text.split(",")
    if len(specs) > MAX_RANGES:
        raise RangeNotSatisfiableError(size)
    satisfiable: list[tuple[int, int]] = []
    seen_any = False
    for spec in specs:
        if spec.strip(" \t") == "":
            continue  # RFC 9110 allows empty list elements
        seen_any = True
        result = _spec(spec, size)
        if result is False:
            return None
        if isinstance(result, tuple):
            satisfiable.append(result)
    if not seen_any:
        return None
    if not satisfiable:
        raise RangeNotSatisfiableError(size)
    satisfiable.sort()
    start, end = satisfiable[0]
    for next_start, next_end in satisfiable[1:]:
        if next_start > end + 1:
            break  # a gap: the rest is not served
        end = max(end, next_end)
    return ByteRange(start, end, size)


def if_range_allows(if_range: str | None, etag: str, last_modified: datetime | None = None) -> bool:
    """True when the Range header may be honoured (RFC 9110 §13.1.5).

    An entity-tag matches only by strong comparison with our ``etag`` (weak tags never match).
    A date matches only if it equals ``last_modified`` exactly; without one, dates never match.
    """
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith('"') or value.startswith("W/"):
        return not value.startswith("W/") and value == etag
    if last_modified is None or len(value) > 64:
        return False
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    if when.tzinfo is None:
        return False
    return int(when.timestamp()) == int(last_modified.timestamp())
