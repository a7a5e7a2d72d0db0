"""The hardware encoder setting reaches ffmpeg: ``Settings`` -> ``media_settings`` -> the service's command.

The service is the real one (loopback source started on the in-memory engine); only the argv is checked,
since this machine has no NVENC/VAAPI/QSV device to run it on (software x264 runs in the API tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import support
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.engine import FileInfo, MemoryEngine
from torrent_streamer.media.hls import Segment
from torrent_streamer.media.runtime import media_settings
from torrent_streamer.media.service import MediaService, parse_variant

from .test_decision import HEVC_AAC

ENCODERS = {"none": "libx264", "nvenc": "h264_nvenc", "vaapi": "h264_vaapi", "qsv": "h264_qsv"}


@pytest.fixture
async def engine() -> AsyncIterator[MemoryEngine]:
    engine = MemoryEngine()
    await engine.start()
    yield engine
    await engine.close()


async def command(engine: MemoryEngine, tmp_path: Path, variant: str, **overrides: str) -> list[str]:
    settings = support.make_settings(tmp_path / "data", **overrides)
    service = MediaService(engine, media_settings(settings), Metrics())
    await service.start()
    try:
        file = FileInfo(0, "hevc-aac.mkv", 1000, "video/x-matroska", True, 0, 0, 0)
        command_for = service._command_for("ab" * 20, file, HEVC_AAC, parse_variant(variant, HEVC_AAC))
        return command_for(Segment(3, 18.0, 24.0), str(tmp_path / "3.m4s"))
    finally:
        await service.close()


def value_after(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


@pytest.mark.parametrize(("setting", "encoder"), list(ENCODERS.items()))
async def test_the_setting_chooses_the_encoder_ffmpeg_runs(
    engine: MemoryEngine, tmp_path: Path, setting: str, encoder: str
) -> None:
    argv = await command(engine, tmp_path, "h264-copy-1", media_hw_encoder=setting)
    assert value_after(argv, "-c:v") == [encoder]
    assert ("-vaapi_device" in argv) == (setting == "vaapi")
    assert argv.index("-i") > (argv.index("-vaapi_device") if setting == "vaapi" else 0)  # a device opens first
    assert value_after(argv, "-force_key_frames") == ["18.000000"]  # keyframes at the segment boundary


def test_the_default_setting_is_software_x264() -> None:
    assert support.make_settings(Path("/nonexistent")).media_hw_encoder == "none"


async def test_copied_video_uses_no_encoder_whatever_the_setting(engine: MemoryEngine, tmp_path: Path) -> None:
    argv = await command(engine, tmp_path, "copy-copy-1", media_hw_encoder="nvenc")
    assert value_after(argv, "-c:v") == ["copy"]
    assert not any(name in argv for name in ENCODERS.values())
