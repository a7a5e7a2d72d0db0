"""Benchmark of the engine on a loopback swarm: time to first byte and seek latency.

Run: `uv run python bench/engine_bench.py [--rate MiB/s] [--size MiB] [--seeks N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import libtorrent as lt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine.conftest import leech_config
from tests.engine.swarm import wait_alert
from torrent_streamer.engine import LibtorrentEngine


def build(root: Path, size: int, piece: int) -> bytes:
    rnd = random.Random(5)
    data = b"".join(rnd.randbytes(1 << 20) for _ in range(size >> 20))
    (root / "Bench").mkdir(parents=True)
    (root / "Bench" / "movie.mkv").write_bytes(data)
    ct = lt.create_torrent(
        [lt.create_file_entry("Bench/movie.mkv", size)],
        piece,
        lt.create_torrent.v1_only,
    )
    lt.set_piece_hashes(ct, str(root))
    return bytes(lt.bencode(ct.generate()))


def seeder(root: Path, torrent: bytes, rate: int, tick: int) -> tuple[lt.session, int]:
    ses = lt.session(
        {
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
            "upload_rate_limit": rate,
            "ignore_limits_on_local_network": False,
            "tick_interval": tick,
            "alert_mask": int(lt.alert_category.status),
        }
    )
    port = int(wait_alert(ses, lt.listen_succeeded_alert).port)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = str(root)
    atp.flags |= lt.torrent_flags.seed_mode
    atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    ses.add_torrent(atp)
    return ses, port


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=20.0, help="seeder upload MiB/s")
    ap.add_argument("--size", type=int, default=64, help="file MiB")
    ap.add_argument("--piece", type=int, default=256, help="piece KiB")
    ap.add_argument("--seeks", type=int, default=20)
    ap.add_argument("--no-preload", action="store_true")
    ap.add_argument(
        "--seed-tick", type=int, default=500, help="seeder tick_interval ms"
    )
    ap.add_argument(
        "--set", action="append", default=[], help="leecher setting key=int"
    )
    a = ap.parse_args()
    if a.set:
        import torrent_streamer.engine.libtorrent_engine as le

        base = le.session_settings
        extra = {k: int(v) for k, v in (kv.split("=", 1) for kv in a.set)}
        le.session_settings = lambda cfg: {**base(cfg), **extra}  # type: ignore[assignment]
    if a.no_preload:
        import torrent_streamer.engine.libtorrent_engine as le2

        le2.initial_priorities = lambda files: [0] * len(files)  # type: ignore[assignment]
    tmp = Path(tempfile.mkdtemp())
    torrent = build(tmp / "seed", a.size << 20, a.piece << 10)
    ses, port = seeder(tmp / "seed", torrent, int(a.rate * (1 << 20)), a.seed_tick)
    engine = LibtorrentEngine(leech_config(tmp / "leech", read_timeout=60.0))
    await engine.start()
    key = (await engine.add_torrent_file(torrent)).info_hash
    engine.connect_peer(key, "127.0.0.1", port)
    t0 = time.monotonic()
    async with await engine.open_reader(key, 0) as r:
        await r.read(0, 1)
        ttfb = time.monotonic() - t0
        rnd = random.Random(1)
        seeks: list[float] = []
        for _ in range(a.seeks):
            off = rnd.randrange(0, r.size - (2 << 20))
            t1 = time.monotonic()
            await r.read(off, 64 << 10)
            seeks.append(time.monotonic() - t1)
            pos = off + 1  # play on for ~1 MiB, like a player after a seek
            while pos < off + (1 << 20):
                pos += len(await r.read(pos, 64 << 10))
    st = engine.status(key)
    await engine.close()
    del ses
    print(f"file {a.size} MiB, pieces {a.piece} KiB, seeder {a.rate} MiB/s")
    print(f"time to first byte: {ttfb * 1000:.0f} ms")
    print(
        f"seek to first byte over {len(seeks)} seeks: p50 {statistics.median(seeks) * 1000:.0f} ms, "
        f"p95 {pct(seeks, 0.95) * 1000:.0f} ms, max {max(seeks) * 1000:.0f} ms"
    )
    print(f"downloaded {st.downloaded_bytes >> 20} MiB of {st.total_size >> 20} MiB")


if __name__ == "__main__":
    asyncio.run(main())
