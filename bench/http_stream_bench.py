"""Stream benchmark (by hand, not a test): the service over real HTTP (uvicorn) with the real engine
against a loopback seeder, beside an in-process engine reader as the reference for HTTP overhead.

Run: ``uv run python -m bench.http_stream_bench [--mib 32] [--seed-rate-mib 20]``; prints JSON figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from bench.start_bench import serve
from tests.engine.swarm import Seeder, make_media

from torrent_streamer.engine import LibtorrentEngine

MiB = 1024 * 1024


async def first_chunk(client: httpx.AsyncClient, url: str, start: int) -> float:
    began = time.perf_counter()
    async with client.stream("GET", url, headers={"Range": f"bytes={start}-"}) as response:
        async for _ in response.aiter_raw():
            return time.perf_counter() - began
    raise RuntimeError("empty body")


async def read_all(client: httpx.AsyncClient, url: str, start: int, end: int) -> tuple[float, int]:
    began, total = time.perf_counter(), 0
    async with client.stream("GET", url, headers={"Range": f"bytes={start}-{end}"}) as response:
        async for chunk in response.aiter_raw():
            total += len(chunk)
    return time.perf_counter() - began, total


async def engine_read(engine: LibtorrentEngine, info_hash: str, index: int, size: int) -> float:
    began, offset = time.perf_counter(), 0
    async with await engine.open_reader(info_hash, index) as reader:
        while offset < size:
            offset += len(await reader.read(offset, 256 * 1024))
    return time.perf_counter() - began


async def main(mib: int, seed_rate_mib: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="stream-bench-"))
    media = make_media(work / "media", mdat=mib * MiB)
    seeder = Seeder(media, upload_rate_limit=seed_rate_mib * MiB)
    figures: dict[str, Any] = {
        "file_mib": round(len(media.files["movie.mp4"]) / MiB, 1),
        "seed_rate_mib_s": seed_rate_mib,
    }
    try:
        async with serve(work, engine_enable_utp=False) as (client, headers, app):
            added = await client.post("/api/v1/torrents", headers=headers, files={"torrent": ("m", media.torrent)})
            torrent_id = added.json()["id"]
            engine: LibtorrentEngine = app.state.services.extras["engine"]
            index, size = media.file_index("movie.mp4"), len(media.files["movie.mp4"])
            engine.connect_peer(media.info_hash, "127.0.0.1", seeder.port)
            url = (await client.post(f"/api/v1/torrents/{torrent_id}/files/{index}/stream", headers=headers)).json()[
                "url"
            ]
            figures["cold_ttfb_s"] = round(await first_chunk(client, url, 0), 4)
            figures["cold_seek_60_ttfb_s"] = round(await first_chunk(client, url, int(size * 0.6)), 4)
            seconds, _ = await read_all(client, url, 0, 16 * MiB - 1)
            figures["first_16_mib_s"] = round(seconds, 3)
            await read_all(client, url, 0, size - 1)  # now complete on disk
            seconds, total = await read_all(client, url, 0, size - 1)
            figures["warm_http_1_reader_mib_s"] = round(total / MiB / seconds, 1)
            began = time.perf_counter()
            results = await asyncio.gather(*(read_all(client, url, 0, size - 1) for _ in range(8)))
            figures["warm_http_8_readers_mib_s"] = round(
                sum(t for _, t in results) / MiB / (time.perf_counter() - began), 1
            )
            figures["warm_engine_reader_mib_s"] = round(
                size / MiB / await engine_read(engine, media.info_hash, index, size), 1
            )
            figures["warm_ttfb_s"] = round(await first_chunk(client, url, 0), 4)
            figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    finally:
        seeder.close()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=32)
    parser.add_argument("--seed-rate-mib", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.mib, args.seed_rate_mib)), indent=2))
