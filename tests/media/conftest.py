"""Fixtures for playback tests: real clips (made once per run), seeded into the in-memory engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from .clips import make_clips, make_subtitle_clips


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="session")
def subtitle_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_subtitle_clips(tmp_path_factory.mktemp("subtitle-clips"))
