"""Unit tests of the window planner, media helpers and MP4 box parsing."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from torrent_streamer.engine.media import (
    display_name,
    guess_mime,
    is_streamable,
    parse_box_header,
)
from torrent_streamer.engine.window import (
    MIN_SPACING_MS,
    ByteRateWindow,
    WindowParams,
    merge_plans,
    mvhd_duration,
)

P = WindowParams(min_pieces=2, seconds=4.0, max_bytes=64 << 20)
MiB = 1 << 20


def test_window_starts_small_and_doubles_per_piece_while_reading_on() -> None:
    w = ByteRateWindow(P, floor_rate=MiB)
    assert w.pieces(MiB) == 2
    for expected in (4, 8, 16):
        w.advance(MiB, 0.0, new_piece=True)
        assert w.pieces(MiB) == expected
    w.advance(1000, 0.0, new_piece=False)  # within the same piece: no growth
    assert w.pieces(MiB) == 16
    w.seek()
    assert w.pieces(MiB) == 2


def test_a_body_read_starts_wider_than_a_probe() -> None:
    w = ByteRateWindow(P, floor_rate=MiB)
    w.seek(2, MiB)  # bytes=0-1
    assert w.pieces(MiB) == 2
    w.seek(256 * 1024, MiB)  # an HTTP body's first read
    assert w.pieces(MiB) == 4  # start_bytes (4 MiB)
    w.seek(256 * 1024, 16 * MiB)
    assert w.pieces(16 * MiB) == 2


def test_window_is_sized_by_the_consumers_read_rate() -> None:
    w = ByteRateWindow(P, floor_rate=MiB)
    for _ in range(10):
        w.advance(2 * MiB, 1.0, new_piece=True)  # the consumer takes 1 s per 2 MiB
    assert w.rate() == 2 * MiB
    assert w.pieces(MiB) == 8  # 4 s of 2 MiB/s
    assert w.pieces(1 << 14) == 512
    slow = ByteRateWindow(P, floor_rate=MiB)
    for _ in range(10):
        slow.advance(MiB // 10, 1.0, new_piece=True)  # slower than playback: the floor applies
    assert slow.rate() == MiB
    fast = ByteRateWindow(P, floor_rate=MiB)
    for _ in range(20):
        fast.advance(MiB, 0.0, new_piece=True)  # never waits: only max_bytes bounds it
    assert fast.pieces(1 << 14) == (64 * MiB) >> 14


def test_deadlines_grow_with_distance_and_skip_had_pieces() -> None:
    w = ByteRateWindow(P, floor_rate=MiB)
    for _ in range(5):
        w.advance(2 * MiB, 1.0, new_piece=True)
    plan = w.plan(10, 1000, MiB, {12})
    assert list(plan) == [10, 11, 13, 14, 15, 16, 17]
    assert plan[10] == 0
    assert plan[11] == 500
    assert plan[13] == 1500
    assert set(w.plan(10, 11, MiB, set())) == {10, 11}  # stops at the file's last piece
    fast = ByteRateWindow(P, floor_rate=MiB)
    fast.advance(MiB, 0.0, new_piece=True)
    ms = list(fast.plan(0, 100, MiB, set()).values())
    assert ms == [k * MIN_SPACING_MS for k in range(len(ms))]


@given(st.lists(st.dictionaries(st.integers(0, 50), st.integers(0, 10_000)), max_size=5))
def test_merge_keeps_earliest_deadline(plans: list[dict[int, int]]) -> None:
    merged = merge_plans(plans)
    assert set(merged) == {p for plan in plans for p in plan}
    for p, ms in merged.items():
        assert ms == min(plan[p] for plan in plans if p in plan)


def test_mime_table() -> None:
    assert guess_mime("a/B.MKV") == "video/x-matroska"
    assert guess_mime("x.webm") == "video/webm"
    assert guess_mime("x.m4v") == "video/mp4"
    assert guess_mime("x.srt") == "application/x-subrip"
    assert guess_mime("x.vtt") == "text/vtt"
    assert guess_mime("x.unknownext") == "application/octet-stream"
    assert is_streamable("video/mp4")
    assert is_streamable("audio/flac")
    assert not is_streamable("text/vtt")


@given(st.text(max_size=200))
def test_display_name_is_clean(name: str) -> None:
    out = display_name(name)
    assert out
    assert "\\" not in out
    assert not out.startswith("/")
    assert all(c.isprintable() or c == " " for c in out) or all(ord(c) >= 32 for c in out)
    assert ".." not in out.split("/")
    assert "" not in out.split("/")


def test_box_headers() -> None:
    assert parse_box_header(struct.pack(">I4s", 24, b"ftyp"), 0, 100).kind == "ftyp"  # type: ignore[union-attr]
    big = struct.pack(">I4sQ", 1, b"mdat", 5000)
    box = parse_box_header(big, 24, 10_000)
    assert box is not None
    assert box.end == 5024
    assert parse_box_header(struct.pack(">I4s", 0, b"moov"), 50, 100).end == 100  # type: ignore[union-attr]
    assert parse_box_header(struct.pack(">I4s", 4, b"bad!"), 0, 100) is None
    assert parse_box_header(struct.pack(">I4s", 1000, b"mdat"), 0, 100) is None
    assert parse_box_header(b"\x00\x00", 0, 100) is None


def test_mvhd_duration() -> None:
    v0 = struct.pack(">I4sB3xIIII", 108, b"mvhd", 0, 0, 0, 1000, 90_000) + bytes(80)
    assert mvhd_duration(v0) == 90.0
    v1 = struct.pack(">I4sB3xQQIQ", 120, b"mvhd", 1, 0, 0, 600, 600 * 3600) + bytes(80)
    assert mvhd_duration(v1) == 3600.0
    assert mvhd_duration(b"junk") is None
