"""The encoder pool owns every ffmpeg it starts: bounded, restarted far away, stopped when idle, no leaks.

Real ffmpeg over a real clip read through the loopback source from the in-memory engine.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from torrent_streamer.core.errors import ServiceUnavailable
from torrent_streamer.engine import MemoryEngine
from torrent_streamer.media.cache import SegmentStore
from torrent_streamer.media.encoders import CommandFor, EncoderPool, EncodersBusy, PoolEvents
from torrent_streamer.media.ffmpeg import SegmentJob, ffmpeg_binary, segment_command
from torrent_streamer.media.hls import Segment, keyframe_segments
from torrent_streamer.media.probe import MediaInfo, probe_url
from torrent_streamer.media.source import LoopbackSource

from .clips import decodes

pytestmark = pytest.mark.slow
CLIP = "h264-ac3.mkv"


class Rig:
    def __init__(self, tmp: Path, clip: Path) -> None:
        self.engine = MemoryEngine()
        self.tmp, self.clip = tmp, clip
        self.restarts = 0
        self.active: list[int] = []

    async def start(self, **pool: float) -> Rig:
        await self.engine.start()
        info = await self.engine.add_torrent_file(self.engine.seed("C", [(CLIP, self.clip.read_bytes())]))
        self.info_hash = info.info_hash
        self.source = LoopbackSource(self.engine, wait_seconds=30)
        await self.source.start()
        self.url = self.source.url_for(self.info_hash, 0)
        self.media: MediaInfo = await asyncio.to_thread(probe_url, self.url, CLIP, 10)
        self.plan = keyframe_segments(self.media.keyframes, self.media.duration, 2.0)  # 2 s: more segments
        events = PoolEvents(on_restart=self._restart, on_active=self.active.append)
        settings = {"max_encoders": 1, "idle_seconds": 30.0, "read_ahead": 1, "segment_timeout": 60.0} | pool
        self.pool = EncoderPool(
            SegmentStore(self.tmp / "cache"),
            max_encoders=int(settings["max_encoders"]),
            idle_seconds=settings["idle_seconds"],
            read_ahead=int(settings["read_ahead"]),
            segment_timeout=settings["segment_timeout"],
            events=events,
        )
        return self

    def _restart(self, so_far: int) -> None:
        self.restarts += 1
        assert so_far == self.restarts  # one file variant here: its own count

    def command(self, slow: bool = False) -> CommandFor:
        ffmpeg = ffmpeg_binary()

        def command_for(seg: Segment, output: str) -> list[str]:
            job = SegmentJob(self.url, seg.start, seg.end, 0, "copy", "h264", 1, "aac")
            argv = segment_command(ffmpeg, job, output)
            if slow:  # read at 1/20 of real time: still running when the test stops it
                at = argv.index("-i")
                argv = [*argv[:at], "-readrate", "0.05", *argv[at:]]
            return argv

        return command_for

    def key(self, variant: str = "copy-aac-1") -> tuple[str, int, str]:
        return (self.info_hash, 0, variant)

    async def close(self) -> None:
        await self.pool.close()
        await self.source.close()
        await self.engine.close()


@pytest.fixture
async def rig(tmp_path: Path, clips: dict[str, Path]) -> AsyncIterator[Rig]:
    r = Rig(tmp_path, clips[CLIP])
    yield r
    await r.close()


async def until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Poll ``condition`` (bounded): process state has no event to wait on."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes only once reaped; the pool awaits wait(), so none remain.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


async def test_segments_in_order_stay_a_few_ahead_and_decode(rig: Rig) -> None:
    await rig.start()
    assert await rig.pool.segment(rig.key(), rig.plan, 0, rig.command()) == "started"
    assert await rig.pool.segment(rig.key(), rig.plan, 1, rig.command()) in ("running", "cached")
    store = rig.pool.store
    init = store.init_path(rig.key()).read_bytes()
    for i in (0, 1):
        joined = rig.tmp / f"{i}.mp4"
        joined.write_bytes(init + store.segment_path(rig.key(), i).read_bytes())
        assert decodes(joined)
    enc = rig.pool.encoder(rig.key())
    assert enc is not None
    assert enc.position <= 1 + rig.pool.read_ahead + 1
    assert not store.has(rig.key(), len(rig.plan) - 1)  # it does not run to the end unasked


async def test_a_far_request_restarts_the_encoder_there(rig: Rig) -> None:
    await rig.start()
    await rig.pool.segment(rig.key(), rig.plan, 0, rig.command())
    far = len(rig.plan) - 1
    assert await rig.pool.segment(rig.key(), rig.plan, far, rig.command()) == "restarted"
    assert rig.restarts == 1
    made = sorted(int(p.stem) for p in rig.pool.store.folder(rig.key()).glob("*.m4s"))
    assert far in made
    assert all(i <= 2 or i >= far for i in made)


async def test_the_pool_is_bounded(rig: Rig) -> None:
    await rig.start(max_encoders=1)
    slow = rig.command(slow=True)
    first = asyncio.create_task(rig.pool.segment(rig.key(), rig.plan, 0, slow))
    await until(lambda: bool(rig.pool.pids()))
    with pytest.raises(EncodersBusy) as refused:
        await rig.pool.segment(rig.key("h264-aac-1"), rig.plan, 0, rig.command())
    assert isinstance(refused.value, ServiceUnavailable)
    assert refused.value.headers["Retry-After"] == "5"
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_idle_encoders_are_stopped_and_their_processes_killed(rig: Rig) -> None:
    await rig.start(idle_seconds=0.5)
    rig.pool.start()
    slow = rig.command(slow=True)
    waiting = asyncio.create_task(rig.pool.segment(rig.key(), rig.plan, 0, slow))
    await until(lambda: bool(rig.pool.pids()))
    pids = rig.pool.pids()
    # Nobody asks again: the reaper stops the encoder, kills ffmpeg and reaps it.
    with pytest.raises(ServiceUnavailable):
        await waiting
    await until(lambda: rig.pool.active == 0 and not rig.pool.pids())
    assert rig.pool.active == 0
    assert rig.pool.pids() == set()
    assert not any(alive(pid) for pid in pids)
    assert rig.active[-1] == 0


async def test_closing_the_pool_leaves_no_process(rig: Rig) -> None:
    await rig.start(max_encoders=2)
    slow = rig.command(slow=True)
    tasks = [
        asyncio.create_task(rig.pool.segment(rig.key(v), rig.plan, 3, slow)) for v in ("copy-aac-1", "copy-copy-1")
    ]
    await until(lambda: len(rig.pool.pids()) == 2)
    pids = rig.pool.pids()
    await rig.pool.close()
    for task in tasks:
        with pytest.raises(ServiceUnavailable):
            await task
    assert rig.pool.pids() == set()
    assert not any(alive(pid) for pid in pids)
    assert not list((rig.tmp / "cache").rglob("*.tmp.mp4"))  # no half-written segment left behind
