"""The media service: probes (cached), segment plans, segments and subtitle tracks for the routes.

One instance per app, built in the lifespan; owns the loopback source and the encoder pool.
A request whose ffmpeg or ffprobe run was refused an engine reader (the node's reader cap) is
answered with that refusal: 429 with ``Retry-After``, as a raw stream would be.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from torrent_streamer.core.errors import NotFound, ServiceUnavailable, Unprocessable
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.engine import Engine, FileInfo
from torrent_streamer.media.cache import SegmentFormatError, SegmentKey, SegmentStore
from torrent_streamer.media.encoders import CommandFor, EncoderFailed, EncoderPool, PoolEvents
from torrent_streamer.media.ffmpeg import SegmentJob, segment_command, subtitle_command
from torrent_streamer.media.hls import VARIANT, Segment, grid_segments, keyframe_segments
from torrent_streamer.media.probe import MediaInfo, ProbeError, probe_url
from torrent_streamer.media.source import LoopbackSource, ReaderSlots

log = structlog.get_logger("torrent_streamer.media")

PROBE_CACHE_ENTRIES = 256
MAX_VTT_BYTES = 2 * 1024 * 1024
INIT_RUN_SECONDS = 0.5
MAX_INIT_RUN_BYTES = 64 * 1024 * 1024
SEEK_SLACK_SECONDS = 0.15  # > ffmpeg's 3/23 s seek back-off for B-frame video, < any keyframe spacing


class MediaUnplayable(Unprocessable):
    slug, title = "media-unplayable", "This file is not playable media"


class VariantNotFound(NotFound):
    slug, title = "variant-not-found", "No such playback variant for this file"


@dataclass(frozen=True, slots=True)
class MediaSettings:
    ffmpeg: str
    cache_dir: Path
    hw_encoder: str
    max_encoders: int
    idle_seconds: float
    segment_seconds: float
    read_ahead: int
    segment_timeout: float
    probe_timeout: float


@dataclass(frozen=True, slots=True)
class Variant:
    video: str | None  # "copy" | "h264" | None
    audio: str | None  # "copy" | "aac" | None
    audio_index: int | None

    @property
    def name(self) -> str:
        return f"{self.video or 'none'}-{self.audio or 'none'}-{'x' if self.audio_index is None else self.audio_index}"


def parse_variant(name: str, media: MediaInfo) -> Variant:
    """A variant path segment checked against the probe (``VariantNotFound`` otherwise)."""
    match = VARIANT.match(name)
    if match is None:
        raise VariantNotFound("No such playback variant for this file.")
    video, audio, index = match.groups()
    variant = Variant(
        None if video == "none" else video, None if audio == "none" else audio, None if index == "x" else int(index)
    )
    if (variant.video is None) != (not media.video):
        raise VariantNotFound("No such playback variant for this file.")
    audio_indexes = {t.index for t in media.audio}
    if (variant.audio is None) != (variant.audio_index is None) or (
        variant.audio_index is not None and variant.audio_index not in audio_indexes
    ):
        raise VariantNotFound("No such playback variant for this file.")
    return variant


@dataclass
class TorrentPlayback:
    """Figures for the torrent status (the most recent active reader of this torrent)."""

    first_segment_seconds: float | None = None
    last_seek_seconds: float | None = None
    encoder_restarts: int = 0


class MediaService:
    def __init__(self, engine: Engine, settings: MediaSettings, metrics: Metrics) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.source = LoopbackSource(engine, wait_seconds=settings.segment_timeout)
        self.store = SegmentStore(settings.cache_dir)
        self.pool = EncoderPool(
            self.store,
            max_encoders=settings.max_encoders,
            idle_seconds=settings.idle_seconds,
            read_ahead=settings.read_ahead,
            segment_timeout=settings.segment_timeout,
            events=PoolEvents(on_restart=metrics.on_encoder_restart, on_active=metrics.on_active_encoders),
        )
        self._probes: OrderedDict[tuple[str, int], MediaInfo] = OrderedDict()
        self._probe_locks: dict[tuple[str, int], asyncio.Lock] = {}
        self._pending_first: dict[SegmentKey, float] = {}
        self.playback: dict[str, TorrentPlayback] = {}

    async def start(self) -> None:
        await self.source.start()
        self.pool.start()

    async def close(self) -> None:
        await self.pool.close()
        await self.source.close()

    def count_readers(self, slots: ReaderSlots) -> None:
        """Count every reader the loopback source opens for ffmpeg against the node's reader cap."""
        self.source.slots = slots

    @contextmanager
    def _readers_refused(self, info_hash: str, file_index: int) -> Iterator[None]:
        """A failure after a run of ours was refused a reader for this file is that refusal (429)."""
        before = self.source.refusals(info_hash, file_index)
        try:
            yield
        except Exception:
            refusal = self.source.refusal_since(info_hash, file_index, before)
            if refusal is None:
                raise
            raise refusal from None

    # -- probe -------------------------------------------------------------------------
    async def probe(self, info_hash: str, file: FileInfo) -> MediaInfo:
        key = (info_hash, file.index)
        cached = self._probes.get(key)
        if cached is not None:
            self._probes.move_to_end(key)
            return cached
        lock = self._probe_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._probes:
                return self._probes[key]
            try:
                with self._readers_refused(info_hash, file.index):
                    info = await self._probe_file(self.source.run_url(info_hash, file.index), file.name)
            finally:
                self._probe_locks.pop(key, None)
            self._probes[key] = info
            while len(self._probes) > PROBE_CACHE_ENTRIES:
                self._probes.popitem(last=False)
            return info

    async def _probe_file(self, url: str, name: str) -> MediaInfo:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(probe_url, url, name, self.settings.probe_timeout), self.settings.probe_timeout + 5
            )
        except ProbeError:
            raise MediaUnplayable("This file could not be read as audio or video.") from None
        except TimeoutError:
            raise ServiceUnavailable(
                "The file's header did not arrive in time.", slug="probe-timeout", headers={"Retry-After": "10"}
            ) from None

    # -- HLS ---------------------------------------------------------------------------
    def segments(self, media: MediaInfo, variant: Variant) -> list[Segment]:
        target = self.settings.segment_seconds
        if variant.video == "copy" and media.keyframes:
            return keyframe_segments(media.keyframes, media.duration, target)
        start = media.keyframes[0] if media.keyframes else media.start_time
        return grid_segments(start, max(media.duration, start + 0.001), target)

    def note_playback(self, info_hash: str, file_index: int, variant: str) -> None:
        """A playback answer was sent: the next first segment of this variant closes the timer."""
        self._pending_first[(info_hash, file_index, variant)] = time.monotonic()
        self.playback.setdefault(info_hash, TorrentPlayback())

    def _command_for(self, info_hash: str, file: FileInfo, media: MediaInfo, variant: Variant) -> CommandFor:
        video_index = media.video[0].index if media.video and variant.video else None
        video_codec = media.video[0].codec if media.video else None
        slack = SEEK_SLACK_SECONDS if media.video and media.video[0].b_frames else 0.0
        audio_codec = next((t.codec for t in media.audio if t.index == variant.audio_index), None)

        def command_for(seg: Segment, output: str) -> list[str]:
            job = SegmentJob(
                self.source.run_url(info_hash, file.index), seg.start, seg.end, video_index, variant.video, video_codec,
                variant.audio_index, variant.audio, self.settings.hw_encoder, audio_codec, slack,
            )  # fmt: skip
            return segment_command(self.settings.ffmpeg, job, output)

        return command_for

    async def segment(self, info_hash: str, file: FileInfo, media: MediaInfo, variant: Variant, index: int) -> Path:
        """The path of segment ``index`` once it is on disk."""
        plan = self.segments(media, variant)
        if not 0 <= index < len(plan):
            raise NotFound("No such segment.", slug="segment-not-found")
        key: SegmentKey = (info_hash, file.index, variant.name)
        began = time.monotonic()
        with self._readers_refused(info_hash, file.index):
            outcome = await self.pool.segment(key, plan, index, self._command_for(info_hash, file, media, variant))
        elapsed = time.monotonic() - began
        stats = self.playback.setdefault(info_hash, TorrentPlayback())
        opened = self._pending_first.pop(key, None)
        if opened is not None:
            stats.first_segment_seconds = time.monotonic() - opened
            self.metrics.media_first_segment.observe(stats.first_segment_seconds)
        if outcome == "restarted" or (outcome == "started" and index > 0):
            stats.last_seek_seconds = elapsed
            self.metrics.media_seek_segment.observe(elapsed)
        if outcome == "restarted":
            stats.encoder_restarts += 1
        return self.store.segment_path(key, index)

    async def init_segment(self, info_hash: str, file: FileInfo, media: MediaInfo, variant: Variant) -> Path:
        """The init segment: from any segment already made, else from a short run over the file's start.

        A short run (not segment 0) so that a player resuming at 70 % does not start an encoder at 0.
        """
        key: SegmentKey = (info_hash, file.index, variant.name)
        path = self.store.init_path(key)
        if path.is_file():
            return path
        first = self.segments(media, variant)[0]
        probe_segment = Segment(0, first.start, min(first.end, first.start + INIT_RUN_SECONDS))
        argv = self._command_for(info_hash, file, media, variant)(probe_segment, "pipe:1")
        with self._readers_refused(info_hash, file.index):
            data = await self.pool.run_once(argv, self.settings.segment_timeout, MAX_INIT_RUN_BYTES)
        try:
            self.store.store_init(key, data)
        except SegmentFormatError:
            raise EncoderFailed("The stream could not be prepared.") from None
        return path

    # -- subtitles ---------------------------------------------------------------------
    async def embedded_vtt(self, info_hash: str, file: FileInfo, media: MediaInfo, stream_index: int) -> bytes:
        """An embedded text subtitle track as WebVTT (cached on disk beside the segments)."""
        track = next((t for t in media.subtitles if t.index == stream_index), None)
        if track is None:
            raise NotFound("No such subtitle track.", slug="subtitle-not-found")
        if not track.text:
            raise MediaUnplayable("This subtitle track is an image format and cannot become WebVTT.")
        key: SegmentKey = (info_hash, file.index, "subtitles")
        path = self.store.folder(key) / f"{stream_index}.vtt"
        if path.is_file():
            return path.read_bytes()
        argv = subtitle_command(self.settings.ffmpeg, self.source.run_url(info_hash, file.index), stream_index)
        with self._readers_refused(info_hash, file.index):
            data = await self.pool.run_once(argv, self.settings.segment_timeout, MAX_VTT_BYTES)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        return data

    async def file_vtt(self, info_hash: str, file: FileInfo) -> bytes:
        """An ASS/SSA file of the torrent converted to WebVTT by ffmpeg (SRT/VTT are converted in Python)."""
        argv = subtitle_command(self.settings.ffmpeg, self.source.run_url(info_hash, file.index), 0)
        with self._readers_refused(info_hash, file.index):
            return await self.pool.run_once(argv, self.settings.segment_timeout, MAX_VTT_BYTES)

    # -- eviction ----------------------------------------------------------------------
    async def sweep(self) -> list[str]:
        """Drop segments, probes and encoders of torrents that left the engine; returns their info-hashes."""
        present = {s.info_hash for s in self.engine.list_status()}
        gone = [h for h in self.store.info_hashes() if h not in present]
        gone += [h for h, _ in self._probes if h not in present and h not in gone]
        for info_hash in gone:
            await self.pool.stop_torrent(info_hash)
            self.store.remove_torrent(info_hash)
            self.source.forget(info_hash)
            self.playback.pop(info_hash, None)
            for key in [k for k in self._probes if k[0] == info_hash]:
                del self._probes[key]
        return gone
