"""Range / If-Range parsing (RFC 9110 §14, SR-3.6): fixed cases modelled on Starlette's, plus properties."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torrent_streamer.streaming.ranges import (
    MAX_RANGE_HEADER_LENGTH,
    MAX_RANGES,
    ByteRange,
    RangeNotSatisfiableError,
    if_range_allows,
    parse_range,
)

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", (0, 0)),
        ("bytes=0-499", (0, 499)),
        ("bytes=500-", (500, 999)),
        ("bytes=-500", (500, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=999-", (999, 999)),
        ("BYTES = 10-20", (10, 20)),
        ("bytes=0-1, 2-3", (0, 3)),  # adjacent: coalesced
        ("bytes=50-100, 0-60", (0, 100)),  # overlapping, out of order
        ("bytes=0-10, 500-600", (0, 10)),  # a gap: only the first is served
        ("bytes=5000-6000, 10-20", (10, 20)),  # unsatisfiable parts dropped
        ("bytes=0-1,", (0, 1)),  # empty list element
    ],
)
def test_satisfiable(header: str, expected: tuple[int, int]) -> None:
    assert parse_range(header, SIZE) == ByteRange(*expected, SIZE)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "items=0-10",
        "bytes",
        "bytes=",
        "bytes=abc",
        "bytes=10-5",
        "bytes=1-2-3",
        "bytes=-",
        "bytes=0x1-2",
        "bytes=٣-4",
    ],
)
def test_ignored_headers_serve_the_whole_file(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", SIZE),
        ("bytes=1000-2000", SIZE),
        ("bytes=-0", SIZE),
        ("bytes=0-", 0),
        ("bytes=-10", 0),
        ("bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES + 1)), SIZE),
        ("bytes=0-1" + " " * MAX_RANGE_HEADER_LENGTH, SIZE),
    ],
)
def test_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiableError) as info:
        parse_range(header, size)
    assert info.value.content_range == f"bytes */{size}"


def test_content_range_text() -> None:
    assert ByteRange(0, 99, 1000).content_range == "bytes 0-99/1000"
    assert ByteRange(0, 99, 1000).length == 100


spec = st.one_of(
    st.tuples(st.integers(0, 3000), st.integers(0, 3000)).map(lambda t: f"{min(t)}-{max(t)}"),
    st.integers(0, 3000).map(lambda n: f"{n}-"),
    st.integers(0, 3000).map(lambda n: f"-{n}"),
)


@given(st.lists(spec, min_size=1, max_size=MAX_RANGES), st.integers(0, 2000))
def test_served_range_is_within_the_file_and_covers_the_lowest_request(specs: list[str], size: int) -> None:
    header = "bytes=" + ",".join(specs)
    try:
        served = parse_range(header, size)
    except RangeNotSatisfiableError:
        return
    assert served is not None
    assert 0 <= served.start <= served.end < size
    assert served.length <= size  # never more than the file: no amplification


@given(st.text(max_size=MAX_RANGE_HEADER_LENGTH * 2), st.integers(0, 10**12))
def test_any_header_either_parses_within_bounds_or_is_refused(header: str, size: int) -> None:
    try:
        served = parse_range(header, size)
    except RangeNotSatisfiableError:
        return
    if served is not None:
        assert 0 <= served.start <= served.end < size


ETAG = '"abc-0-1000"'
MODIFIED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        (None, True),
        (ETAG, True),
        ('"other"', False),
        ("W/" + ETAG, False),  # weak tags never match (strong comparison)
        ("Fri, 02 Jan 2026 03:04:05 GMT", True),
        ("Fri, 02 Jan 2026 03:04:06 GMT", False),
        ("not a date", False),
    ],
)
def test_if_range(value: str | None, allowed: bool) -> None:
    assert if_range_allows(value, ETAG, MODIFIED) is allowed


def test_if_range_date_without_last_modified_never_matches() -> None:
    assert if_range_allows("Fri, 02 Jan 2026 03:04:05 GMT", ETAG, None) is False
