"""The media service's place in the app: built from settings in the lifespan, given to routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends

from torrent_streamer.core.config import Settings
from torrent_streamer.core.deps import ServicesDep
from torrent_streamer.core.errors import ServiceUnavailable
from torrent_streamer.core.state import Services
from torrent_streamer.engine import Engine
from torrent_streamer.media.ffmpeg import ffmpeg_binary
from torrent_streamer.media.service import MediaService, MediaSettings

MEDIA_KEY = "media"
SWEEP_INTERVAL_SECONDS = 60.0


def media_settings(settings: Settings) -> MediaSettings:
    return MediaSettings(
        ffmpeg=ffmpeg_binary(settings.media_ffmpeg_path),
        cache_dir=settings.media_cache_dir or settings.data_dir / "media",
        hw_encoder=settings.media_hw_encoder,
        max_encoders=settings.media_max_encoders,
        idle_seconds=settings.media_encoder_idle_seconds,
        segment_seconds=settings.media_segment_seconds,
        read_ahead=settings.media_read_ahead_segments,
        segment_timeout=settings.media_segment_timeout,
        probe_timeout=settings.media_probe_timeout,
    )


async def _sweep_loop(media: MediaService) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
        await media.sweep()


@asynccontextmanager
async def media_lifespan(services: Services, engine: Engine) -> AsyncIterator[None]:
    """Start the loopback source and the encoder pool; on exit stop every encoder and its process."""
    media = MediaService(engine, media_settings(services.settings), services.metrics)
    await media.start()
    services.extras[MEDIA_KEY] = media
    sweeper = asyncio.create_task(_sweep_loop(media))
    try:
        yield
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        services.extras.pop(MEDIA_KEY, None)
        await media.close()


async def get_media(services: ServicesDep) -> MediaService:
    media: MediaService | None = services.extras.get(MEDIA_KEY)
    if media is None:
        raise ServiceUnavailable("Playback is not available.", slug="media-unavailable")
    return media


MediaDep = Annotated[MediaService, Depends(get_media)]
