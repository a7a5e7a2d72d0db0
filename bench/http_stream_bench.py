"""Stream benchmark (by hand, not a test): the service over real HTTP (uvicorn) with the real engine
against a loopback seeder, beside an in-process engine reader as the reference for HTTP overhead.

Run: ``uv run python -m bench.http_stream_bench [--mib 32] [--seed-rate-mib 20]``; prints JSON figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import secrets
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from tests.engine.swarm import Seeder, make_media
from tests.support import TEST_ENCRYPTION_KEYS, TEST_SECRET_KEY

from torrent_streamer.app import create_app
from torrent_streamer.core import migrate
from torrent_streamer.core.config import Settings
from torrent_streamer.engine import LibtorrentEngine

MiB = 1024 * 1024
PASSWORD = f"Tq9!{secrets.token_urlsafe(12)}-zK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    db = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    await asyncio.to_thread(migrate.upgrade, db)
    port = free_port()
    settings = Settings(
        data_dir=work / "data",
        database_url=db,
        secret_key=TEST_SECRET_KEY,
        encryption_keys=TEST_ENCRYPTION_KEYS,
        engine="libtorrent",
        engine_listen_interfaces="127.0.0.1:0",
        engine_enable_dht=False,
        engine_enable_utp=False,
        engine_allow_private_networks=True,
        rate_limit_enabled=False,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, Any] = {
        "file_mib": round(len(media.files["movie.mp4"]) / MiB, 1),
        "seed_rate_mib_s": seed_rate_mib,
    }
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            email = "bench@example.test"
            registered = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
            assert registered.status_code == 201, registered.text
            login = (await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})).json()
            headers = {"Authorization": f"Bearer {login['access_token']}"}
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
        server.should_exit = True
        await serving
        seeder.close()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=32)
    parser.add_argument("--seed-rate-mib", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.mib, args.seed_rate_mib)), indent=2))
