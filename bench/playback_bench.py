"""Playback benchmark (by hand, not a test): first segment for direct vs remux vs transcode, seek to an
uncached point, and ffmpeg CPU seconds per minute of video, with the real engine and a loopback seeder.

Each run starts a fresh engine (cold: nothing downloaded, nothing cached). "direct" is the first
byte of the raw MP4 through an engine reader, the reference; remux/transcode include the probe.
Run: ``uv run python -m bench.playback_bench [--runs 3] [--seed-rate-mib 20] [--segment-seconds 2]``;
prints JSON figures. The seek goes to the segment at 70 %, beyond the running encoder's read-ahead: the
bench checks that exactly one encoder restart served it. CPU is measured on a separate pass that
encodes the whole file in order into an empty cache (no restarts), from data already downloaded.
Time to first *frame* in Chromium: bench/playback_browser_bench.py.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import libtorrent as lt
from tests.engine.conftest import leech_config
from tests.engine.swarm import PIECE, Media, Seeder
from tests.media.clips import CLIPS, SECONDS, make_clips

from torrent_streamer.core.metrics import Metrics
from torrent_streamer.engine import LibtorrentEngine
from torrent_streamer.media.ffmpeg import ffmpeg_binary
from torrent_streamer.media.service import MediaService, MediaSettings, parse_variant

CASES = {"direct": ("faststart.mp4", None), "remux": ("h264-ac3.mkv", "copy-aac-1"),
         "transcode": ("hevc-aac.mkv", "h264-copy-1")}  # fmt: skip


def swarm(root: Path) -> Media:
    clips = make_clips(root / "clips")
    top = root / "seed" / "Clips"
    top.mkdir(parents=True)
    files = {name: clips[name].read_bytes() for name in CLIPS}
    for name, data in files.items():
        (top / name).write_bytes(data)
    entries = [lt.create_file_entry(f"Clips/{n}", len(d)) for n, d in files.items()]
    ct = lt.create_torrent(entries, PIECE, lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, str(root / "seed"))
    torrent = bytes(lt.bencode(ct.generate()))
    return Media(root / "seed", "Clips", files, torrent, str(lt.torrent_info(torrent).info_hashes().v1))


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def restarts(metrics: Metrics) -> float:
    return float(metrics.media_encoder_restarts._value.get())


async def one_run(media: Media, seeder: Seeder, tmp: Path, case: str, segment_seconds: float) -> dict[str, float]:
    engine = LibtorrentEngine(leech_config(tmp / "engine"))
    await engine.start()
    metrics = Metrics()
    settings = MediaSettings(ffmpeg_binary(), tmp / "media", "none", 2, 60.0, segment_seconds, 2, 120.0, 60.0)
    service = MediaService(engine, settings, metrics)
    await service.start()
    try:
        await engine.add_torrent_file(media.torrent)
        engine.connect_peer(media.info_hash, "127.0.0.1", seeder.port)
        name, variant_name = CASES[case]
        file = next(f for f in engine.status(media.info_hash).files if f.name.endswith(name))
        began = time.monotonic()
        if variant_name is None:
            async with await engine.open_reader(media.info_hash, file.index) as reader:
                await reader.read(0, 1)
            await engine.close()
            return {"first": time.monotonic() - began}
        info = await service.probe(media.info_hash, file)
        variant = parse_variant(variant_name, info)
        await service.init_segment(media.info_hash, file, info, variant)
        await service.segment(media.info_hash, file, info, variant, 0)
        first = time.monotonic() - began
        plan = service.segments(info, variant)
        late = int(len(plan) * 0.7)
        # Uncached: past what the running encoder may have made (it stays `read_ahead` segments ahead of
        # the last request), so the request restarts it there; the restart counter proves it.
        if late <= settings.read_ahead + 1:
            raise SystemExit(f"{len(plan)} segments: 70 % is inside the read-ahead; use shorter --segment-seconds")
        before = restarts(metrics)
        began = time.monotonic()
        await service.segment(media.info_hash, file, info, variant, late)
        seek = time.monotonic() - began
        restarted = restarts(metrics) - before
        if restarted != 1:
            raise SystemExit(f"the seek to segment {late} restarted {restarted} encoders, not 1: not an uncached seek")
    finally:
        await service.close()
    try:
        # CPU: a second, fresh media service (empty segment cache) encodes the whole file in order, from
        # data already downloaded; getrusage counts an ffmpeg once it has exited (after close()).
        cpu_service = MediaService(engine, dataclasses.replace(settings, cache_dir=tmp / "cpu"), Metrics())
        await cpu_service.start()
        cpu_before = child_cpu()
        try:
            for index in range(len(plan)):
                await cpu_service.segment(media.info_hash, file, info, variant, index)
        finally:
            await cpu_service.close()
        cpu = child_cpu() - cpu_before
        made = sum(s.duration for s in plan)
        return {"first": first, "seek": seek, "cpu_s_per_min": cpu / made * 60}
    finally:
        await engine.close()


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


async def main(runs: int, seed_rate_mib: float, segment_seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        media = swarm(root)
        seeder = Seeder(media, upload_rate_limit=int(seed_rate_mib * 1024 * 1024))
        results: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
        try:
            for run in range(runs):
                for case in CASES:  # interleaved, so machine load affects each case alike
                    results[case].append(await one_run(media, seeder, root / f"{case}-{run}", case, segment_seconds))
        finally:
            seeder.close()
    out: dict[str, Any] = {
        "runs": runs,
        "seed_rate_mib": seed_rate_mib,
        "clip_seconds": SECONDS,
        "segment_seconds": segment_seconds,
    }
    for case, rows in results.items():
        out[case] = {key: summary([r[key] for r in rows]) for key in rows[0]}
    ref = out["direct"]["first"]["median"]
    for case in ("remux", "transcode"):
        out[case]["first_minus_direct_s"] = round(out[case]["first"]["median"] - ref, 3)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed-rate-mib", type=float, default=20.0)
    # 2 s (the service's default is 6): the 20 s clips then have 10 segments, so 70 % lies beyond the
    # encoder's read-ahead and the seek really restarts it.
    parser.add_argument("--segment-seconds", type=float, default=2.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.runs, args.seed_rate_mib, args.segment_seconds)), indent=2))
