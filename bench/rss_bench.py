"""Peak RSS of the engine with many readers on large pieces (issue 12, item 6), by hand, never in CI.

Each run is a fresh subprocess (its `VmHWM` is its own peak): the real `LibtorrentEngine` adds a torrent
with 16 MiB pieces, connects to a loopback seeder in this process, opens N readers spread over the file
and reads `--span-mib` from each, all at once. References in the same run: the engine with the torrent
added and no reader, and with one reader; the bound is N x `reader_cache_pieces` x piece length.

    uv run python bench/rss_bench.py --readers 64 --piece-mib 16 --size-mib 1024 --reps 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MiB = 1024 * 1024


async def child(torrent: bytes, work: Path, port: int, readers: int, span: int) -> dict[str, Any]:
    from stream_workers import proc_status

    from torrent_streamer.engine import EngineConfig, LibtorrentEngine

    cfg = EngineConfig(
        download_dir=work / "downloads",
        state_dir=work / "state",
        listen_interfaces="127.0.0.1:0",
        enable_dht=False,
        enable_utp=False,
        allow_private_networks=True,
        max_piece_length=256 * MiB,
        read_timeout=300.0,
    )
    engine = LibtorrentEngine(cfg)
    await engine.start()
    try:
        info = await engine.add_torrent_file(torrent)
        engine.connect_peer(info.info_hash, "127.0.0.1", port)
        movie = max(info.files, key=lambda f: f.size)
        base = proc_status(os.getpid())["VmRSS"]
        started = time.monotonic()

        async def read_span(i: int) -> int:
            start = (movie.size - span) * i // max(1, readers - 1) if readers > 1 else 0
            got = 0
            async with await engine.open_reader(info.info_hash, movie.index) as r:
                while got < span:
                    got += len(await r.read(start + got, min(256 * 1024, span - got)))
            return got

        total = sum(await asyncio.gather(*(read_span(i) for i in range(readers))))
        if readers == 0:
            await engine.wait_status(info.info_hash, lambda s: s.peers > 0, 60)
        status = proc_status(os.getpid())
        return {
            "readers": readers,
            "bytes": total,
            "seconds": time.monotonic() - started,
            "base_rss_mib": base / 1024,
            "peak_rss_mib": status["VmHWM"] / 1024,
        }
    finally:
        await engine.close()


def run_child(torrent: Path, work: Path, port: int, readers: int, span: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(torrent), str(work), str(port), str(readers), str(span)]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{HERE}"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child with {readers} readers failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        torrent, work, port, readers, span = sys.argv[2:7]
        data = Path(torrent).read_bytes()
        print(json.dumps(asyncio.run(child(data, Path(work), int(port), int(readers), int(span)))))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readers", type=int, default=64)
    p.add_argument("--piece-mib", type=int, default=16)
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--span-mib", type=int, default=40, help="bytes each reader reads (crosses 2-3 pieces)")
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    sys.path.insert(0, str(HERE))
    from stream_bench import Seeder, machine, make_media, make_torrent

    with tempfile.TemporaryDirectory(prefix="rss-bench-") as tmp:
        root = Path(tmp)
        make_media(root / "media", args.size_mib * MiB, seconds=600)
        torrent = root / "bench.torrent"
        torrent.write_bytes(make_torrent(root / "media", args.piece_mib * MiB, "http://127.0.0.1:9/announce"))
        seeder = Seeder(root / "media", torrent.read_bytes())
        results: dict[int, list[dict[str, Any]]] = {0: [], 1: [], args.readers: []}
        try:
            for rep in range(args.reps):
                for n in results:
                    work = root / f"run-{rep}-{n}"
                    results[n].append(run_child(torrent, work, seeder.port, n, args.span_mib * MiB))
                    print(json.dumps(results[n][-1]), file=sys.stderr)
        finally:
            seeder.close()
    bound = args.readers * 2 * args.piece_mib
    print(
        f"machine: {machine()}; {args.piece_mib} MiB pieces, {args.size_mib} MiB file, {args.span_mib} MiB per reader"
    )
    print("| readers | peak RSS, median (min–max) | over the no-reader reference |")
    print("|---|---|---|")
    ref = statistics.median(r["peak_rss_mib"] for r in results[0])
    for n, runs in results.items():
        peaks = [r["peak_rss_mib"] for r in runs]
        med = statistics.median(peaks)
        print(f"| {n} | {med:.0f} MiB ({min(peaks):.0f}–{max(peaks):.0f}) | {med / ref:.2f}x (+{med - ref:.0f} MiB) |")
    print(f"bound for {args.readers} readers: {args.readers} x 2 pieces x {args.piece_mib} MiB = {bound} MiB")


if __name__ == "__main__":
    main()
