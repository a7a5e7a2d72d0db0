"""The torrent engine's place in the app: built from settings in the lifespan, given to routes.

Also maps engine timing events to Prometheus and refreshes the engine gauges periodically.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import structlog
from fastapi import Depends

from torrent_streamer.core.config import Settings
from torrent_streamer.core.deps import ServicesDep
from torrent_streamer.core.errors import ServiceUnavailable
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.core.state import Services
from torrent_streamer.engine import Engine, EngineConfig, LibtorrentEngine, MemoryEngine, TorrentNotFound
from torrent_streamer.torrents import repository

log = structlog.get_logger("torrent_streamer.torrents")

ENGINE_KEY = "engine"
GAUGE_INTERVAL_SECONDS = 5.0


class MetricsObserver:
    """The engine's observer: in-reader seeks and stalls into the app's metrics.

    A reader's first byte is not recorded here: the stream response measures time to first byte
    per HTTP request (a player's seek is a new request, whose reader's "first byte" is a seek).
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_first_byte(self, seconds: float) -> None:
        return None

    def on_seek(self, seconds: float) -> None:
        self._metrics.stream_seek.observe(seconds)

    def on_stall(self, seconds: float) -> None:
        self._metrics.stream_stalls.inc()
        self._metrics.stream_stalled_seconds.inc(seconds)


def engine_config(settings: Settings) -> EngineConfig:
    proxy = settings.engine_proxy_url.get_secret_value() if settings.engine_proxy_url else None
    return EngineConfig(
        download_dir=settings.downloads_dir,
        state_dir=settings.engine_state_dir,
        listen_interfaces=settings.engine_listen_interfaces,
        enable_dht=settings.engine_enable_dht,
        enable_lsd=settings.engine_enable_lsd,
        enable_upnp=settings.engine_enable_upnp,
        enable_natpmp=settings.engine_enable_natpmp,
        enable_utp=settings.engine_enable_utp,
        outgoing_utp=settings.engine_outgoing_utp,
        utp_fallback_seconds=settings.engine_utp_fallback_seconds,
        allow_private_networks=settings.engine_allow_private_networks,
        download_rate_limit=settings.engine_download_rate_limit,
        upload_rate_limit=settings.engine_upload_rate_limit,
        connections_limit=settings.engine_connections_limit,
        proxy_url=proxy,
        cache_limit_bytes=settings.engine_cache_limit_bytes,
        max_torrent_file_bytes=settings.max_upload_bytes,
        metadata_timeout=settings.engine_metadata_timeout,
        resume_save_interval=settings.engine_resume_save_interval,
        max_piece_length=settings.engine_max_piece_length,
        max_metadata_size=settings.engine_max_metadata_size,
    )


def build_engine(settings: Settings, metrics: Metrics) -> Engine:
    observer = MetricsObserver(metrics)
    if settings.engine == "memory":
        return MemoryEngine(engine_config(settings), observer)
    if settings.engine != "libtorrent":
        raise ValueError(f"unknown engine {settings.engine!r}")
    return LibtorrentEngine(engine_config(settings), observer)


def update_gauges(engine: Engine, metrics: Metrics) -> None:
    stats = engine.stats()
    metrics.engine_torrents.set(stats.active_torrents)
    metrics.engine_readers.set(stats.readers)
    metrics.engine_download_rate.set(stats.download_rate)
    metrics.engine_upload_rate.set(stats.upload_rate)
    metrics.engine_cache_bytes.set(stats.cache_bytes_used)


async def _gauge_loop(engine: Engine, metrics: Metrics) -> None:
    while True:
        update_gauges(engine, metrics)
        await asyncio.sleep(GAUGE_INTERVAL_SECONDS)


async def check_engine(services: Services) -> bool:
    engine = services.extras.get(ENGINE_KEY)
    if engine is None:
        return False
    engine.stats()  # raises when the session is gone
    return True


class TakedownOnMetadata:
    """When a magnet's metadata shows every hash, check them all against the takedown list at once.

    A `btmh`-only magnet of a hybrid torrent blocked by its v1 hash cannot be recognised when it is
    added; without this it would download and seed until someone asked for a stream (issue 12, item 5).
    """

    def __init__(self, services: Services, engine: Engine) -> None:
        self._services, self._engine = services, engine
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, info_hash: str, hashes: tuple[str, ...]) -> None:
        task = asyncio.create_task(self.check(info_hash, hashes))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def check(self, info_hash: str, hashes: tuple[str, ...]) -> None:
        try:
            async with self._services.sessionmaker() as session:
                blocked = await repository.is_blocked(session, sorted({info_hash, *hashes}))
            if not blocked:
                return
            log.warning("blocked_torrent_dropped_at_metadata", info_hash=info_hash, hashes=list(hashes))
            with contextlib.suppress(TorrentNotFound):
                await self._engine.remove(info_hash, delete_files=True)
        except Exception:
            # The stream paths check again (refuse_if_blocked); a database hiccup here must not go unseen.
            log.exception("takedown_check_failed", info_hash=info_hash)

    async def drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@asynccontextmanager
async def engine_lifespan(services: Services) -> AsyncIterator[None]:
    """Start the engine, expose it and its readiness check; close it (saving resume data) on exit."""
    engine = services.extras.get(ENGINE_KEY) or build_engine(services.settings, services.metrics)
    takedown = TakedownOnMetadata(services, engine)
    engine.on_metadata(takedown)
    await engine.start()
    services.extras[ENGINE_KEY] = engine
    services.extras.setdefault("readiness_checks", {})[ENGINE_KEY] = check_engine
    gauges = asyncio.create_task(_gauge_loop(engine, services.metrics))
    log.info("engine_started", kind=type(engine).__name__)
    try:
        yield
    finally:
        gauges.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gauges
        services.extras.pop(ENGINE_KEY, None)
        await takedown.drain()
        await engine.close()


def engine_of(services: Services) -> Engine:
    engine: Engine | None = services.extras.get(ENGINE_KEY)
    if engine is None:
        raise ServiceUnavailable("The torrent engine is not running.", slug="engine-unavailable")
    return engine


async def get_engine(services: ServicesDep) -> Engine:  # async: see core.deps.get_services
    return engine_of(services)


EngineDep = Annotated[Engine, Depends(get_engine)]
