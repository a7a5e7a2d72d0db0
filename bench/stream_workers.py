"""Benchmark workers, one subprocess per run: (a) a raw libtorrent reader, (b) the engine.

`python bench/stream_workers.py raw|engine cold|warm ...` prints one JSON line of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import libtorrent as lt

MiB = 1024 * 1024
FIRST_BYTES = 16 * MiB
CHUNK = 256 * 1024  # what the HTTP layer asks the engine for per read
SEEK_AT = 0.60
TIMEOUT = 120.0
WARM_READERS = 8
SINGLE_REPEAT = 2  # warm: the single reader reads the whole file this many times
MULTI_REPEAT = 4  # warm: each of the 8 readers reads its eighth this many times

# The raw reader gets the engine's network tuning (same conditions; see docs/benchmarks.md).
RAW_SETTINGS: dict[str, Any] = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_outgoing_utp": False,
    "enable_incoming_utp": False,
    "alert_mask": int(lt.alert_category.status | lt.alert_category.storage | lt.alert_category.error),
    "alert_queue_size": 10000,
    "torrent_connect_boost": 40,
    "connection_speed": 60,
    "max_out_request_queue": 1500,
    "request_queue_time": 2,
    "tick_interval": 100,
}


class RssSampler:
    """Samples this process's /proc status every 20 ms: peak VmRSS and peak RssAnon (MiB)."""

    def __init__(self) -> None:
        self.peak_rss = 0
        self.peak_anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            fields = proc_status("self")
            self.peak_rss = max(self.peak_rss, fields.get("VmRSS", 0))
            self.peak_anon = max(self.peak_anon, fields.get("RssAnon", 0))

    def result(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        hwm = proc_status("self").get("VmHWM", 0)
        return {"rss_hwm_mib": max(hwm, self.peak_rss) / 1024, "rss_anon_peak_mib": self.peak_anon / 1024}


def proc_status(pid: str | int) -> dict[str, int]:
    """The kB fields of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, RssFile...)."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            out[key] = int(parts[0])
    return out


class Layout:
    """Where the benchmarked file sits in the torrent."""

    def __init__(self, torrent: bytes) -> None:
        self.torrent = torrent
        ti = lt.torrent_info(torrent)
        fs = ti.files()
        self.index = max(range(fs.num_files()), key=fs.file_size)
        self.num_files = fs.num_files()
        self.offset = fs.file_offset(self.index)
        self.size = fs.file_size(self.index)
        self.plen = ti.piece_length()
        self.first = self.offset // self.plen
        self.last = (self.offset + self.size - 1) // self.plen

    def piece_of(self, file_offset: int) -> int:
        return (self.offset + file_offset) // self.plen

    def seek_target(self, h: lt.torrent_handle) -> int:
        """File offset of the first piece at or after 60 % neither verified nor in flight."""
        busy = {d["piece_index"] for d in h.get_download_queue()}
        p = self.piece_of(int(self.size * SEEK_AT))
        while p < self.last and (p in busy or h.have_piece(p)):
            p += 1
        return max(0, p * self.plen - self.offset)


# -- (a) the raw libtorrent reader ------------------------------------------------------
def _collect(ses: lt.session, pieces: set[int], timeout: float = TIMEOUT) -> dict[int, bytes]:
    """Wait for read_piece_alerts of `pieces`; returns their buffers."""
    got: dict[int, bytes] = {}
    end = time.monotonic() + timeout
    while pieces - got.keys():
        if time.monotonic() > end:
            raise TimeoutError(f"pieces {sorted(pieces - got.keys())[:5]} did not arrive")
        if not ses.wait_for_alert(500):
            continue
        for a in ses.pop_alerts():
            if isinstance(a, lt.read_piece_alert) and a.piece in pieces:
                if a.error.value():
                    raise RuntimeError(a.error.message())
                got[a.piece] = bytes(a.buffer)
    return got


def _raw_add(ses: lt.session, lay: Layout, save: Path) -> lt.torrent_handle:
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(lay.torrent)
    atp.save_path = str(save)
    atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    prios = [0] * lay.num_files
    prios[lay.index] = 4
    atp.file_priorities = prios
    return ses.add_torrent(atp)


def raw_cold(lay: Layout, src: mmap.mmap, work: Path, seek_run: bool) -> dict[str, float]:
    """TTFB at 0, then either the first 16 MiB or, at once, a seek to 60 %."""
    ses = lt.session(RAW_SETTINGS)
    try:
        t0 = time.perf_counter()
        h = _raw_add(ses, lay, work)
        deadline = lt.deadline_flags_t.alert_when_available
        h.set_piece_deadline(lay.first, 0, deadline)
        first = _collect(ses, {lay.first})[lay.first]
        ttfb = time.perf_counter() - t0
        assert first[lay.offset - lay.first * lay.plen :][:4096] == src[:4096]
        if not seek_run:
            rest = range(lay.first + 1, lay.piece_of(FIRST_BYTES - 1) + 1)
            for k, p in enumerate(rest):
                h.set_piece_deadline(p, k, deadline)
            _collect(ses, set(rest))
            return {"ttfb": ttfb, "first16": time.perf_counter() - t0}
        h.clear_piece_deadlines()
        off = lay.seek_target(h)
        p = lay.piece_of(off)
        ts = time.perf_counter()
        h.set_piece_deadline(p, 0, deadline)
        data = _collect(ses, {p})[p]
        seek = time.perf_counter() - ts
        start = lay.offset + off - p * lay.plen
        assert data[start : start + 4096] == src[off : off + 4096]
        return {"ttfb2": ttfb, "seek": seek}
    finally:
        ses.pause()
        del ses


def _raw_read_cursors(ses: lt.session, h: lt.torrent_handle, spans: list[list[int]]) -> float:
    """Readers, each reading its span of pieces in order, one read_piece in flight each."""
    cursors = [iter(s) for s in spans]
    waiting: dict[int, list[int]] = {}
    total = 0

    def issue(i: int) -> None:
        p = next(cursors[i], None)
        if p is not None:
            waiting.setdefault(p, []).append(i)
            if len(waiting[p]) == 1:
                h.read_piece(p)

    t0 = time.perf_counter()
    for i in range(len(cursors)):
        issue(i)
    while waiting:
        if not ses.wait_for_alert(1000):
            continue
        for a in ses.pop_alerts():
            if isinstance(a, lt.read_piece_alert) and a.piece in waiting:
                buf = bytes(a.buffer)
                for i in waiting.pop(a.piece):
                    total += len(buf)
                    issue(i)
    return total / MiB / (time.perf_counter() - t0)


def raw_warm(lay: Layout, work: Path, rounds: int) -> dict[str, float]:
    ses = lt.session(RAW_SETTINGS)
    try:
        h = _raw_add(ses, lay, work)
        end = time.monotonic() + TIMEOUT
        while not h.status().is_finished:
            if time.monotonic() > end:
                raise TimeoutError("download did not finish")
            ses.wait_for_alert(200)
            ses.pop_alerts()
        whole = [list(range(lay.first, lay.last + 1)) * SINGLE_REPEAT]
        step = (lay.last - lay.first + 1) // WARM_READERS
        spans = [
            list(range(lay.first + k * step, lay.first + (k + 1) * step)) * MULTI_REPEAT for k in range(WARM_READERS)
        ]
        single = [_raw_read_cursors(ses, h, whole) for _ in range(rounds)]
        multi = [_raw_read_cursors(ses, h, spans) for _ in range(rounds)]
        return {"single": statistics.median(single), "multi": statistics.median(multi)}
    finally:
        ses.pause()
        del ses


# -- (b) the engine ------------------------------------------------------------------
def patch_engine_file_prio_fix() -> None:
    """Bench-side reproduction of fix 1 proposed in docs/benchmarks.md (variant b*): when
    libtorrent reports that new file priorities were applied (`file_prio_alert`, which resets
    piece priorities), push every current deadline again."""
    from torrent_streamer.engine import libtorrent_engine
    from torrent_streamer.engine.alerts import AlertPump, Event, ih_of

    convert = AlertPump._convert
    dispatch = libtorrent_engine.LibtorrentEngine._dispatch

    def _convert(self: Any, a: Any, events: list[Any], snaps: list[Any]) -> None:
        if isinstance(a, lt.file_prio_alert):
            events.append(Event("file_prio", ih_of(a.handle.info_hashes())))
        convert(self, a, events, snaps)

    def _dispatch(self: Any, events: list[Any], snaps: list[Any]) -> None:
        dispatch(self, events, snaps)
        for e in events:
            t = self._lookup(e.ih) if e.kind == "file_prio" else None
            if t is not None:
                t.deadlines.clear()
                t.apply_deadlines()

    AlertPump._convert = _convert  # type: ignore[method-assign]
    libtorrent_engine.LibtorrentEngine._dispatch = _dispatch  # type: ignore[method-assign]


def _engine(work: Path) -> Any:
    from torrent_streamer.engine import EngineConfig, LibtorrentEngine

    cfg = EngineConfig(
        download_dir=work / "downloads",
        state_dir=work / "state",
        listen_interfaces="127.0.0.1:0",
        enable_dht=False,
        enable_utp=False,
        allow_private_networks=True,
        resume_save_interval=3600.0,
        maintenance_interval=3600.0,
        read_timeout=TIMEOUT,
    )
    return LibtorrentEngine(cfg)


async def _read_span(r: Any, start: int, end: int) -> int:
    off = start
    while off < end:
        off += len(await r.read(off, min(CHUNK, end - off)))
    return off - start


async def engine_cold(lay: Layout, src: mmap.mmap, work: Path, seek_run: bool) -> dict[str, float]:
    """The same sequence as `raw_cold`, through `open_reader().read()`."""
    eng = _engine(work)
    await eng.start()
    try:
        t0 = time.perf_counter()
        info = await eng.add_torrent_file(lay.torrent)
        async with await eng.open_reader(info.info_hash, lay.index) as r:
            first = await r.read(0, CHUNK)
            ttfb = time.perf_counter() - t0
            assert first == src[: len(first)]
            if not seek_run:
                await _read_span(r, len(first), FIRST_BYTES)
                return {"ttfb": ttfb, "first16": time.perf_counter() - t0}
            off = lay.seek_target(eng.session.get_torrents()[0])
            ts = time.perf_counter()
            data = await r.read(off, CHUNK)
            seek = time.perf_counter() - ts
            assert data == src[off : off + len(data)]
        return {"ttfb2": ttfb, "seek": seek}
    finally:
        await eng.close()


async def engine_warm(lay: Layout, work: Path, rounds: int) -> dict[str, float]:
    eng = _engine(work)
    await eng.start()
    try:
        info = await eng.add_torrent_file(lay.torrent)
        key = info.info_hash
        async with await eng.open_reader(key, lay.index):
            await eng.wait_status(key, lambda s: s.progress >= 1.0, TIMEOUT)

        async def once(spans: list[tuple[int, int]], repeat: int) -> float:
            async def one(a: int, b: int) -> int:
                async with await eng.open_reader(key, lay.index) as r:
                    return sum([await _read_span(r, a, b) for _ in range(repeat)])

            t0 = time.perf_counter()
            done = await asyncio.gather(*(one(a, b) for a, b in spans))
            return sum(done) / MiB / (time.perf_counter() - t0)

        step = lay.size // WARM_READERS
        spans = [(k * step, (k + 1) * step) for k in range(WARM_READERS)]
        single = [await once([(0, lay.size)], SINGLE_REPEAT) for _ in range(rounds)]
        multi = [await once(spans, MULTI_REPEAT) for _ in range(rounds)]
        return {"single": statistics.median(single), "multi": statistics.median(multi)}
    finally:
        await eng.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("impl", choices=["raw", "engine", "engine-fix"])
    ap.add_argument("phase", choices=["cold", "warm"])
    ap.add_argument("--torrent", type=Path, required=True)
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    lay = Layout(args.torrent.read_bytes())
    if args.impl == "engine-fix":
        patch_engine_file_prio_fix()
    sampler = RssSampler()
    with args.media.open("rb") as fh:
        src = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)  # compared slices only: no RSS
    out: dict[str, Any] = {}
    if args.phase == "cold":
        reps = []
        for i in range(args.reps):
            work = args.work / f"rep{i}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            rep: dict[str, float] = {}
            for seek_run in (False, True):  # two fresh sessions: 16 MiB run, then seek run
                if args.impl == "raw":
                    rep.update(raw_cold(lay, src, work / str(seek_run), seek_run))
                else:
                    rep.update(asyncio.run(engine_cold(lay, src, work / str(seek_run), seek_run)))
            reps.append(rep)
            shutil.rmtree(work, ignore_errors=True)
        out["reps"] = reps
    else:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        if args.impl == "raw":
            out.update(raw_warm(lay, args.work, args.reps))
        else:
            out.update(asyncio.run(engine_warm(lay, args.work, args.reps)))
        shutil.rmtree(args.work, ignore_errors=True)
    src.close()
    out.update(sampler.result())
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
