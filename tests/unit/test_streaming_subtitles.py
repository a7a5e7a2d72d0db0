"""Subtitles as WebVTT: SRT conversion, encoding detection, VTT validation, bounds."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torrent_streamer.streaming.subtitles import (
    MAX_SUBTITLE_BYTES,
    SubtitleError,
    decode_text,
    srt_to_vtt,
    to_webvtt,
    validate_vtt,
)

SRT = "1\r\n00:00:01,000 --> 00:00:02,500\r\nCafé <i>olé</i>\r\n\r\n2\r\n00:01:00,5 --> 00:01:02,000 X:10%\r\nBye\r\n"


def test_srt_converted() -> None:
    vtt = srt_to_vtt(SRT.encode("utf-8"))
    assert vtt.startswith("WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\nCafé <i>olé</i>\n")
    assert "00:01:00.500 --> 00:01:02.000 X:10%" in vtt
    assert "\r" not in vtt


@pytest.mark.parametrize(
    "encoded",
    [
        codecs.BOM_UTF8 + SRT.encode("utf-8"),
        codecs.BOM_UTF16_LE + SRT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + SRT.encode("utf-16-be"),
        SRT.encode("cp1252"),
        SRT.encode("latin-1"),
    ],
)
def test_encodings_detected(encoded: bytes) -> None:
    assert "Café <i>olé</i>" in srt_to_vtt(encoded)


def test_cp1252_specific_characters() -> None:
    assert decode_text("“quoted” – €".encode("cp1252")) == "“quoted” – €"


def test_latin1_fallback_never_fails() -> None:
    assert decode_text(b"\x81\x8d\xe9") == "\x81\x8d\xe9"


def test_vtt_validated_and_passed_through() -> None:
    body = "\ufeffWEBVTT - title\n\n00:01.000 --> 00:02.000\nHi\x07\n"
    assert validate_vtt(body.encode()) == "WEBVTT - title\n\n00:01.000 --> 00:02.000\nHi\n"
    with pytest.raises(SubtitleError):
        validate_vtt(b"WEBVTTX\n")
    with pytest.raises(SubtitleError):
        validate_vtt(b"<script>alert(1)</script>")


def test_bounds_and_dispatch() -> None:
    with pytest.raises(SubtitleError):
        srt_to_vtt(b"x" * (MAX_SUBTITLE_BYTES + 1))
    with pytest.raises(SubtitleError):
        srt_to_vtt(b"no cues here")
    with pytest.raises(SubtitleError):
        to_webvtt("movie.mp4", b"")
    assert to_webvtt("A.SRT", SRT.encode()).startswith("WEBVTT")


@given(st.binary(max_size=4096))
def test_arbitrary_bytes_give_vtt_or_a_clean_error(data: bytes) -> None:
    try:
        vtt = srt_to_vtt(data)
    except SubtitleError:
        return
    assert vtt.startswith("WEBVTT\n")
    assert "\x00" not in vtt
    assert "\r" not in vtt
