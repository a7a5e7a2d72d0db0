"""Pure packaging pieces: segment plans from keyframes, playlists, fMP4 splitting, ffmpeg command lines."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torrent_streamer.media import hls
from torrent_streamer.media.cache import SegmentFormatError, split_fragmented
from torrent_streamer.media.ffmpeg import SegmentJob, h264_encoder_args, segment_command
from torrent_streamer.media.source import parse_simple_range


def test_copied_video_is_cut_on_keyframes_about_six_seconds_apart() -> None:
    keyframes = tuple(0.005 + 2 * i for i in range(10))
    segments = hls.keyframe_segments(keyframes, 20.005, 6.0)
    assert [(s.start, s.end) for s in segments] == [(0.005, 6.005), (6.005, 12.005), (12.005, 18.005), (18.005, 20.005)]
    irregular = hls.keyframe_segments((0.0, 1.0, 7.5, 8.0, 15.0), 16.0, 6.0)
    assert [(s.start, s.end) for s in irregular] == [(0.0, 7.5), (7.5, 15.0), (15.0, 16.0)]


@given(
    st.lists(st.floats(0, 3600, allow_nan=False), min_size=1, max_size=200),
    st.floats(1, 4000, allow_nan=False),
    st.floats(2, 20),
)
def test_keyframe_segments_tile_the_whole_duration(kfs: list[float], duration: float, target: float) -> None:
    keyframes = tuple(sorted(set(kfs)))
    segments = hls.keyframe_segments(keyframes, duration, target)
    assert segments[-1].end == max(duration, keyframes[-1])
    for a, b in itertools.pairwise(segments):
        assert a.end == b.start
        assert a.start in (*keyframes, 0.0)
    assert all(s.duration > 0 for s in segments)
    assert [s.index for s in segments] == list(range(len(segments)))


def test_grid_segments_for_transcoding() -> None:
    segments = hls.grid_segments(0.0, 20.0, 6.0)
    assert [(s.start, s.end) for s in segments] == [(0, 6), (6, 12), (12, 18), (18, 20)]
    assert len(hls.grid_segments(0.0, 18.0, 6.0)) == 3


def test_media_playlist_is_vod_fmp4_and_covers_the_duration() -> None:
    text = hls.media_playlist(hls.grid_segments(0.0, 20.0, 6.0))
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert '#EXT-X-MAP:URI="init.mp4"' in lines
    assert "#EXT-X-TARGETDURATION:6" in lines
    total = sum(float(line.split(":")[1].rstrip(",")) for line in lines if line.startswith("#EXTINF"))
    assert total == pytest.approx(20.0)
    assert [line for line in lines if line.endswith(".m4s")] == ["0.m4s", "1.m4s", "2.m4s", "3.m4s"]


def test_master_playlist_lists_subtitles_as_a_group() -> None:
    subs = [hls.SubtitleRendition('English "SDH"\n', "eng", "../../subtitles/e2.m3u8")]
    text = hls.master_playlist(800_000, None, "320x180", subs)
    assert (
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English SDH",LANGUAGE="eng",DEFAULT=NO,'
        'AUTOSELECT=YES,URI="../../subtitles/e2.m3u8"'
    ) in text
    assert '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=320x180,SUBTITLES="subs"\nvideo.m3u8' in text
    assert "SUBTITLES" not in hls.master_playlist(1, None, None, [])


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_split_fragmented_mp4() -> None:
    init = box(b"ftyp", b"iso6") + box(b"moov", b"x" * 10)
    media = box(b"moof", b"a") + box(b"mdat", b"bb") + box(b"moof", b"c") + box(b"mdat", b"d")
    assert split_fragmented(init + media + box(b"mfra", b"z")) == (init, media)
    with pytest.raises(SegmentFormatError):
        split_fragmented(init)
    with pytest.raises(SegmentFormatError):
        split_fragmented(init + media[:-1])


def test_segment_command_keeps_source_timestamps_and_cuts_where_told() -> None:
    job = SegmentJob("http://127.0.0.1:1/k", 6.005, 12.005, 0, "copy", "hevc", 1, "aac")
    cmd = segment_command("ffmpeg", job, "/tmp/out.mp4")
    joined = " ".join(cmd)
    assert "-copyts -ss 6.005000 -i http://127.0.0.1:1/k -to 12.005000" in joined
    assert "-c:v copy -tag:v hvc1" in joined
    assert "-c:a aac -ac 2" in joined
    assert "default_base_moof+frag_discont+negative_cts_offsets" in joined
    transcode = " ".join(segment_command("ffmpeg", SegmentJob("u", 12.0, 18.0, 0, "h264", "vp9", None, None), "o"))
    assert "libx264" in transcode
    assert "-force_key_frames 12.000000" in transcode
    assert "-map 0:1" not in transcode


@pytest.mark.parametrize(
    ("hw", "encoder"), [("none", "libx264"), ("nvenc", "h264_nvenc"), ("vaapi", "h264_vaapi"), ("qsv", "h264_qsv")]
)
def test_hardware_encoder_is_chosen_by_the_setting(hw: str, encoder: str) -> None:
    args = h264_encoder_args(hw)
    assert args[args.index("-c:v") + 1] == encoder
    cmd = segment_command("ffmpeg", SegmentJob("u", 0.0, 6.0, 0, "h264", "hevc", None, None, hw), "o")
    assert cmd[cmd.index("-c:v") + 1] == encoder
    assert ("-vaapi_device" in cmd) == (hw == "vaapi")


def test_unknown_hardware_encoder_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hardware encoder"):
        h264_encoder_args("cuda")


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("bytes=0-", (0, 100)), ("bytes=10-19", (10, 20)), ("bytes=90-500", (90, 100)),
     ("bytes=-5", None), ("items=0-1", None)],
)  # fmt: skip
def test_loopback_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_simple_range(header, 100) == expected


def test_loopback_range_past_the_end() -> None:
    with pytest.raises(ValueError, match="satisfiable"):
        parse_simple_range("bytes=100-", 100)


def test_variant_names() -> None:
    assert hls.VARIANT.match("copy-aac-1")
    assert hls.VARIANT.match("h264-none-x")
    assert not hls.VARIANT.match("copy-aac-1/../x")
    assert not hls.VARIANT.match("vp9-aac-1")
