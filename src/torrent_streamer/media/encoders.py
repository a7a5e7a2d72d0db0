"""The one owner of every ffmpeg process the service starts: bounded, restarted, stopped when idle.

An ``Encoder`` produces consecutive segments of one (file, variant) from where it was started,
staying at most ``read_ahead`` segments ahead of the last request. A request far from it restarts
it there; one nobody asked for during ``idle_seconds`` is stopped (its process killed). The pool
holds at most ``max_encoders`` of them; processes are killed and reaped on every exit path.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import structlog

from torrent_streamer.core.errors import ServiceUnavailable
from torrent_streamer.media.cache import SegmentFormatError, SegmentKey, SegmentStore
from torrent_streamer.media.hls import Segment

log = structlog.get_logger("torrent_streamer.media")

MAX_STDERR_BYTES = 4096


class EncodersBusy(ServiceUnavailable):
    slug, title = "encoders-busy", "Every encoder is busy"


class EncoderFailed(ServiceUnavailable):
    slug, title = "encoder-failed", "The segment could not be prepared"


Outcome = Literal["cached", "running", "started", "restarted"]
CommandFor = Callable[[Segment, str], list[str]]  # (segment, output path) -> argv


@dataclass
class PoolEvents:
    """Callbacks for metrics: a restart (with how many that file variant has had so far), the number
    of running encoders after each start or stop."""

    on_restart: Callable[[int], None] = lambda n: None
    on_active: Callable[[int], None] = lambda n: None


@dataclass
class Encoder:
    key: SegmentKey
    segments: list[Segment]
    command_for: CommandFor
    start: int
    wanted: int
    last_request: float
    task: asyncio.Task[None] | None = None
    position: int = 0  # the segment being made (or next to make)
    error: str | None = None
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.task is not None and self.task.done()


class EncoderPool:
    def __init__(
        self,
        store: SegmentStore,
        *,
        max_encoders: int,
        idle_seconds: float,
        read_ahead: int,
        segment_timeout: float,
        events: PoolEvents | None = None,
    ) -> None:
        self.store = store
        self.max_encoders = max_encoders
        self.idle_seconds = idle_seconds
        self.read_ahead = read_ahead
        self.segment_timeout = segment_timeout
        self.events = events or PoolEvents()
        self._encoders: dict[SegmentKey, Encoder] = {}
        self._restarts: dict[SegmentKey, int] = {}
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._reaper: asyncio.Task[None] | None = None

    # -- introspection (metrics and leak tests) ----------------------------------------
    @property
    def active(self) -> int:
        return sum(1 for e in self._encoders.values() if not e.finished)

    def active_for(self, info_hash: str) -> int:
        return sum(1 for k, e in self._encoders.items() if k[0] == info_hash and not e.finished)

    def pids(self) -> set[int]:
        return set(self._processes)

    def encoder(self, key: SegmentKey) -> Encoder | None:
        return self._encoders.get(key)

    # -- life --------------------------------------------------------------------------
    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap_loop())

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for key in list(self._encoders):
            await self._stop(key)

    async def stop_torrent(self, info_hash: str) -> None:
        for key in [k for k in self._encoders if k[0] == info_hash]:
            await self._stop(key)

    async def reap_idle(self) -> None:
        """Stop encoders whose output nobody asked for during ``idle_seconds`` (and finished ones)."""
        now = time.monotonic()
        for key, enc in list(self._encoders.items()):
            if enc.finished or now - enc.last_request >= self.idle_seconds:
                await self._stop(key)

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, self.idle_seconds / 4))
            await self.reap_idle()

    async def _stop(self, key: SegmentKey) -> None:
        enc = self._encoders.pop(key, None)
        if enc is not None and enc.task is not None:
            enc.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await enc.task
        self.events.on_active(self.active)

    # -- segments ----------------------------------------------------------------------
    async def segment(self, key: SegmentKey, segments: list[Segment], index: int, command_for: CommandFor) -> Outcome:
        """Wait until segment ``index`` is on disk, starting or restarting the encoder as needed."""
        enc = self._encoders.get(key)
        if self.store.has(key, index):
            if enc is not None:
                self._want(enc, index)
            return "cached"
        outcome: Outcome = "running"
        if enc is None or enc.finished or enc.error or not (enc.position <= index <= enc.position + self.read_ahead):
            outcome = "started"
            if enc is not None:
                await self._stop(key)
                self._restarts[key] = self._restarts.get(key, 0) + 1
                self.events.on_restart(self._restarts[key])
                outcome = "restarted"
            enc = await self._launch(key, segments, index, command_for)
        self._want(enc, index)
        await self._wait(enc, key, index)
        return outcome

    async def run_once(self, argv: list[str], timeout: float, max_bytes: int) -> bytes:
        """A one-shot process (subtitle extraction, init segment): stdout up to ``max_bytes``, killed on timeout."""
        proc = await self._spawn(argv, asyncio.subprocess.PIPE)
        try:
            out = await asyncio.wait_for(_read_bounded(proc, max_bytes), timeout)
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            raise EncoderFailed("Processing took too long.", headers={"Retry-After": "5"}) from None
        finally:
            await self._reap(proc)
        if proc.returncode != 0:
            raise EncoderFailed("The media could not be processed.")
        return out

    def _want(self, enc: Encoder, index: int) -> None:
        enc.last_request = time.monotonic()
        if index > enc.wanted:
            enc.wanted = index
            enc.wake.set()

    async def _launch(self, key: SegmentKey, segments: list[Segment], index: int, command_for: CommandFor) -> Encoder:
        if len(self._encoders) >= self.max_encoders:
            await self.reap_idle()
        if len(self._encoders) >= self.max_encoders:
            raise EncodersBusy("Every encoder is busy; try again shortly.", headers={"Retry-After": "5"})
        enc = Encoder(key, segments, command_for, index, index, time.monotonic(), position=index)
        enc.task = asyncio.create_task(self._run(enc))
        self._encoders[key] = enc
        self.events.on_active(self.active)
        return enc

    async def _wait(self, enc: Encoder, key: SegmentKey, index: int) -> None:
        deadline = time.monotonic() + self.segment_timeout
        while not self.store.has(key, index):
            if enc.error is not None:
                raise EncoderFailed("The segment could not be prepared.")
            if enc.finished or self._encoders.get(key) is not enc:
                raise EncoderFailed("The encoder stopped before this segment was ready.")
            left = deadline - time.monotonic()
            if left <= 0:
                raise EncoderFailed("The segment took too long to prepare.", headers={"Retry-After": "5"})
            enc.progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(enc.progress.wait(), min(left, 1.0))

    async def _run(self, enc: Encoder) -> None:
        try:
            for seg in enc.segments[enc.start :]:
                enc.position = seg.index
                while seg.index > enc.wanted + self.read_ahead:
                    enc.wake.clear()
                    await enc.wake.wait()
                if not self.store.has(enc.key, seg.index):
                    await self._produce(enc, seg)
                enc.progress.set()
        except (OSError, SegmentFormatError) as exc:
            enc.error = str(exc)
            log.warning("encoder_failed", key=enc.key, error=str(exc))
        finally:
            enc.progress.set()

    async def _spawn(self, argv: list[str], stdout: int) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=stdout, stderr=asyncio.subprocess.PIPE
        )
        self._processes[proc.pid] = proc
        return proc

    async def _reap(self, proc: asyncio.subprocess.Process) -> None:
        """Kill the process if it still runs and wait for it (even when cancelled): no zombie, no orphan."""
        if proc.returncode is None:
            proc.kill()
            with contextlib.suppress(ProcessLookupError):
                await asyncio.shield(proc.wait())
        self._processes.pop(proc.pid, None)

    async def _produce(self, enc: Encoder, seg: Segment) -> None:
        scratch = self.store.scratch(enc.key, seg.index)
        argv = enc.command_for(seg, str(scratch))
        proc = await self._spawn(argv, asyncio.subprocess.DEVNULL)
        try:
            _, stderr = await proc.communicate()
        finally:
            await self._reap(proc)
            if proc.returncode != 0:
                scratch.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise OSError(f"ffmpeg exited {proc.returncode}: {stderr[-MAX_STDERR_BYTES:].decode(errors='replace')}")
        self.store.store(enc.key, seg.index, scratch)


async def _read_bounded(proc: asyncio.subprocess.Process, max_bytes: int) -> bytes:
    """A process's whole stdout, refusing more than ``max_bytes``."""
    if proc.stdout is None:
        raise RuntimeError("stdout is not a pipe")
    out = bytearray()
    while chunk := await proc.stdout.read(64 * 1024):
        out += chunk
        if len(out) > max_bytes:
            raise EncoderFailed("The output is too large.")
    return bytes(out)
