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
    HEAD_GAP_MS,
    WindowParams,
    merge_plans,
    mvhd_duration,
    plan_window,
    window_seconds,
)

P = WindowParams(min_seconds=2, max_seconds=30, max_bytes=64 << 20)


def test_cursor_piece_first_then_spaced() -> None:
    plan = plan_window(10, 1000, 1 << 20, 2 << 20, 4.0, P, set())
    assert plan[10] == 0
    assert plan[11] == HEAD_GAP_MS
    assert list(plan) == list(range(10, 18))
    gaps = {plan[p + 1] - plan[p] for p in range(11, 17)}
    assert gaps == {500}  # 1 MiB pieces at 2 MiB/s


def test_window_skips_had_pieces_and_stops_at_file_end() -> None:
    plan = plan_window(10, 12, 1 << 16, 1 << 20, 10.0, P, {11})
    assert set(plan) == {10, 12}


def test_window_grows_with_play_and_is_capped() -> None:
    assert window_seconds(P, 0, 1 << 20) == 2
    assert window_seconds(P, 5 << 20, 1 << 20) == 7
    assert window_seconds(P, 1 << 40, 1 << 20) == 30
    assert len(plan_window(0, 10**6, 1 << 14, 1 << 30, 30, P, set())) == (64 << 20) >> 14
    assert len(plan_window(0, 10**6, 1 << 14, 1 << 20, 30, P, set(), pieces_cap=2)) == 2


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
