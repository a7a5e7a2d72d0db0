"""File names from torrents in JSON and in Content-Disposition (RFC 6266, SR-3.5)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torrent_streamer.torrents.names import ascii_fallback, base_name, content_disposition, display_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Movie/movie.mp4", "movie.mp4"),
        ("..\\..\\evil.exe", "evil.exe"),
        ("a/..", "file"),
        ('say "hi".mkv', "say 'hi'.mkv"),
        ("bad\r\nSet-Cookie: x.mp4", "badSet-Cookie: x.mp4"),
        ("\u202egpj.exe", "gpj.exe"),
    ],
)
def test_base_name(name: str, expected: str) -> None:
    assert base_name(name) == expected


def test_content_disposition_has_both_forms() -> None:
    header = content_disposition("Films/Amélie 2001.mkv")
    assert header == "inline; filename=\"Amelie 2001.mkv\"; filename*=UTF-8''Am%C3%A9lie%202001.mkv"


def test_display_name_keeps_structure_but_not_controls() -> None:
    assert display_name("Dir/Sub/\x00a\u200bb.mp4") == "Dir/Sub/ab.mp4"
    assert len(display_name("x" * 1000)) == 255
    assert ascii_fallback("日本語") == "file"


@given(st.text(max_size=400))
def test_header_is_always_one_safe_line(name: str) -> None:
    header = content_disposition(name)
    assert header.isascii()
    assert not any(c in header for c in "\r\n\x00\\")
    ascii_part = header.split('filename="', 1)[1].split('"', 1)[0]
    assert "/" not in ascii_part
    assert ";" not in ascii_part
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert not any(c in encoded for c in " \"';,/")
    decoded = unquote(encoded)
    assert "/" not in decoded
    assert "\\" not in decoded
    assert "\n" not in decoded
