"""Catalog pure functions: signed cursors, strict magnets, query tokens and word similarity."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torrent_streamer.catalog.cursor import CursorError, cursor_key, decode_cursor, encode_cursor
from torrent_streamer.catalog.magnet import MagnetError, build_magnet, parse_magnet
from torrent_streamer.catalog.query import (
    fts5_match,
    fts5_trigram_pieces,
    guess_category,
    tokens,
    tsquery_prefix,
    uses_websearch_syntax,
    word_similarity,
)

KEY = cursor_key("unit-test-key-of-sufficient-length-000000")
# Real cursors hold a fingerprint, an id and one sort value: well under the 512-character bound.
json_scalars = st.one_of(
    st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), st.none()
)
payloads = st.dictionaries(st.text(min_size=1, max_size=4), json_scalars, max_size=4)


@given(payloads)
def test_cursor_round_trips(payload: dict[str, object]) -> None:
    assert decode_cursor(KEY, encode_cursor(KEY, payload)) == payload


@given(payloads, st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_any_tampered_byte_is_refused(payload: dict[str, object], index: int, byte: int) -> None:
    token = encode_cursor(KEY, payload)
    body, tag = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    position = index % len(raw)
    if raw[position] == byte:
        byte = (byte + 1) % 256
    raw[position] = byte
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + tag
    with pytest.raises(CursorError):
        decode_cursor(KEY, forged)


@given(st.text(max_size=600))
def test_arbitrary_text_is_never_accepted(text: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(KEY, text)


def test_a_cursor_from_another_key_is_refused() -> None:
    token = encode_cursor(cursor_key("another-key-another-key-another-key-00"), {"k": 1})
    with pytest.raises(CursorError):
        decode_cursor(KEY, token)


HEX = "1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e"


def test_magnets_v1_hex_base32_and_v2() -> None:
    assert parse_magnet(f"magnet:?xt=urn:btih:{HEX.upper()}&dn=x").info_hash_v1 == HEX
    b32 = base64.b32encode(bytes.fromhex(HEX)).decode()
    assert parse_magnet(f"magnet:?xt=urn:btih:{b32}").info_hash_v1 == HEX
    v2 = "ab" * 32
    hybrid = parse_magnet(f"magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{v2}&dn=Name")
    assert (hybrid.info_hash_v1, hybrid.info_hash_v2, hybrid.display_name) == (HEX, v2, "Name")
    assert parse_magnet(build_magnet(HEX, "A & B / C")).display_name == "A & B / C"


@pytest.mark.parametrize(
    "text",
    [
        "http://example.com",
        "magnet:?dn=only-a-name",
        "magnet:?xt=urn:btih:1234",
        f"magnet:?xt=urn:btih:{HEX}z",
        f"magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{HEX}",
        "magnet:?xt=urn:btmh:1114" + "ab" * 32,
        "magnet:?xt=urn:sha1:" + HEX,
        "magnet:?xt=urn:btih:" + HEX + "&" + "&".join(["x=1"] * 100),
        "magnet:?" + "a" * 5000,
    ],
)
def test_malformed_magnets_are_refused(text: str) -> None:
    with pytest.raises(MagnetError):
        parse_magnet(text)


@given(st.text(max_size=300))
def test_magnet_parser_only_raises_magnet_errors(text: str) -> None:
    with contextlib.suppress(MagnetError):
        parse_magnet("magnet:?" + text)


@given(st.text(max_size=300))
def test_query_builders_never_emit_syntax_from_user_text(text: str) -> None:
    words = tokens(text)
    assert all(ch.isalnum() for word in words for ch in word)
    for built in (fts5_match(words), fts5_trigram_pieces(words), tsquery_prefix(words)):
        stripped = built.replace('"', "").replace("*", "").replace(" OR ", " ").replace("&", "").replace(":", "")
        assert all(ch.isalnum() or ch.isspace() or ch == "_" for ch in stripped)


def test_tokens_split_release_names() -> None:
    assert tokens("Interstellar.2014.1080p_BluRay-x264 (SPARKS)") == [
        "interstellar",
        "2014",
        "1080p",
        "bluray",
        "x264",
        "sparks",
    ]
    assert fts5_match(["inter", "stel"]) == '"inter" "stel"*'
    assert tsquery_prefix(["inter", "stel"]) == "inter & stel:*"


def test_websearch_syntax_is_recognised() -> None:
    assert uses_websearch_syntax('"exact phrase"')
    assert uses_websearch_syntax("star -wars")
    assert uses_websearch_syntax("alien or predator")
    assert not uses_websearch_syntax("interstellar 2014 x-men oracle")


def test_word_similarity_tolerates_one_typo_and_ignores_unrelated_titles() -> None:
    assert word_similarity("interstellar", "Interstellar.2014.1080p") == 1.0
    assert word_similarity("interstelar", "Interstellar.2014.1080p") >= 0.8
    assert word_similarity("interstelar", "International.Business.2019") < 0.6
    assert word_similarity("", "x") == 0.0


def test_category_guess() -> None:
    assert guess_category("Show.S01E02.720p") == "tv"
    assert guess_category("Interstellar.2014.1080p.BluRay") == "movies"
    assert guess_category("Artist - Album (2001) [FLAC]") == "music"
    assert guess_category("Some Book.epub") == "books"
    assert guess_category("Ubuntu 24.04 desktop amd64 iso") == "software"
    assert guess_category("random words") == "other"
