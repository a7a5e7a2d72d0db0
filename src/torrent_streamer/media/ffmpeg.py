"""The ffmpeg binary (from the ``imageio-ffmpeg`` wheel) and the command lines the encoders run.

Pure command building: one segment = one ffmpeg run from a source keyframe (or grid point) to the
next boundary, with source timestamps kept (``-copyts``) so every segment sits where the playlist says.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Literal

HwEncoder = Literal["none", "nvenc", "vaapi", "qsv"]

# Hardware H.264 encoders by setting value; "none" is software x264. No B-frames: without an edit
# list (fragmented MP4 has none) their reorder delay would shift every segment's presentation times.
H264_ENCODERS: dict[str, list[str]] = {
    "none": [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-bf",
        "0",
    ],
    "nvenc": ["-c:v", "h264_nvenc", "-preset", "p4", "-profile:v", "high", "-pix_fmt", "yuv420p", "-bf", "0"],
    "vaapi": ["-vf", "format=nv12,hwupload", "-c:v", "h264_vaapi", "-profile:v", "high", "-bf", "0"],
    "qsv": ["-c:v", "h264_qsv", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "nv12", "-bf", "0"],
}
HW_INPUT_ARGS: dict[str, list[str]] = {"vaapi": ["-vaapi_device", "/dev/dri/renderD128"]}


def ffmpeg_binary(configured: str | None = None) -> str:
    """The configured binary, else the static one shipped in the ``imageio-ffmpeg`` wheel."""
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise FileNotFoundError(configured)
        return found
    import imageio_ffmpeg  # type: ignore[import-untyped]

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def h264_encoder_args(hw: str) -> list[str]:
    """Video encoder options for transcoding to H.264 (software x264 unless a hardware one is named)."""
    if hw not in H264_ENCODERS:
        raise ValueError(f"unknown hardware encoder {hw!r}")
    return list(H264_ENCODERS[hw])


@dataclass(frozen=True, slots=True)
class SegmentJob:
    source_url: str
    start: float
    end: float
    video_index: int | None
    video: str | None  # "copy" | "h264" | None
    video_codec: str | None  # the source's, for the fMP4 sample entry tag
    audio_index: int | None
    audio: str | None  # "copy" | "aac" | None
    hw: str = "none"
    audio_codec: str | None = None  # the source's
    seek_slack: float = 0.0  # added to the input seek: ffmpeg backs off 3/23 s when the video has B-frames


def segment_command(ffmpeg: str, job: SegmentJob, output: str) -> list[str]:
    """One fragmented-MP4 segment [start, end) with the source's timestamps."""
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if job.video == "h264":
        cmd += HW_INPUT_ARGS.get(job.hw, [])
    seek = job.start + (job.seek_slack if job.video == "copy" else 0.0)
    if job.video == "copy":
        cmd += ["-noaccurate_seek"]  # audio starts where the copied video does, not at the slacked seek
    cmd += ["-rw_timeout", "120000000", "-copyts", "-ss", f"{seek:.6f}", "-i", job.source_url]
    cmd += ["-to", f"{job.end:.6f}"]
    if job.video_index is not None:
        cmd += ["-map", f"0:{job.video_index}"]
    if job.audio_index is not None:
        cmd += ["-map", f"0:{job.audio_index}"]
    if job.video == "copy":
        cmd += ["-c:v", "copy"]
        if job.video_codec == "hevc":
            cmd += ["-tag:v", "hvc1"]  # Apple plays HEVC in fMP4 only with the hvc1 sample entry
    elif job.video == "h264":
        cmd += h264_encoder_args(job.hw)
        cmd += ["-force_key_frames", f"{job.start:.6f}"]
    if job.audio == "copy":
        cmd += ["-c:a", "copy"]
    elif job.audio == "aac":
        cmd += ["-c:a", "aac", "-ac", "2", "-b:a", "160k"]
    cmd += ["-sn", "-dn", "-avoid_negative_ts", "disabled", "-muxdelay", "0"]
    # AC-3/E-AC-3 need a packet before their sample entry can be written: delay the moov, not empty it.
    late_moov = job.audio == "copy" and job.audio_codec in ("ac3", "eac3")
    flags = f"frag_keyframe+{'delay_moov' if late_moov else 'empty_moov'}+default_base_moof+frag_discont"
    cmd += ["-f", "mp4", "-movflags", flags + "+negative_cts_offsets", output]
    return cmd


def subtitle_command(ffmpeg: str, source_url: str, stream_index: int) -> list[str]:
    """One embedded text subtitle track as WebVTT on stdout."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-rw_timeout", "120000000",
        "-i", source_url, "-map", f"0:{stream_index}", "-c:s", "webvtt", "-f", "webvtt", "pipe:1",
    ]  # fmt: skip
