"""End to end: the app with the real libtorrent engine streaming from a loopback seeder over HTTP.

Upload and magnet adds, byte-exact ranges, a cold seek before completion, concurrent readers, a
disconnecting reader, and a restart that serves verified pieces without downloading them again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests import support
from tests.integration import torrents_support as ts
from torrent_streamer.engine import FileReader, LibtorrentEngine
from torrent_streamer.streaming.response import StreamResponse

from .swarm import Media, Seeder

pytestmark = pytest.mark.engine
MOVIE = "movie.mp4"


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, LibtorrentEngine]]:
    async with support.client_for(app, timeout=30.0) as client:
        engine = app.state.services.extras["engine"]
        assert isinstance(engine, LibtorrentEngine)
        yield client, engine


class Player:
    def __init__(self, client: httpx.AsyncClient, user: ts.Authed, torrent_id: str) -> None:
        self.client, self.user, self.torrent_id = client, user, torrent_id

    async def url(self, index: int) -> str:
        response = await self.client.post(
            f"/api/v1/torrents/{self.torrent_id}/files/{index}/stream", headers=self.user.headers
        )
        assert response.status_code == 200, response.text
        return urlsplit(response.json()["url"]).path

    async def range(self, url: str, start: int, end: int | None = None) -> httpx.Response:
        spec = f"bytes={start}-{'' if end is None else end}"
        return await self.client.get(url, headers={"Range": spec})


async def upload(client: httpx.AsyncClient, engine: LibtorrentEngine, media: Media, seeder: Seeder) -> Player:
    user = await ts.login(client)
    response = await client.post("/api/v1/torrents", headers=user.headers, files={"torrent": ("m", media.torrent)})
    assert response.status_code == 201, response.text
    engine.connect_peer(media.info_hash, "127.0.0.1", seeder.port)
    return Player(client, user, response.json()["id"])


async def test_upload_then_byte_exact_ranges(make_app: Callable[[], FastAPI], media: Media, seeder: Seeder) -> None:
    async with running(make_app()) as (client, engine):
        player = await upload(client, engine, media, seeder)
        content, url = media.files[MOVIE], await player.url(media.file_index(MOVIE))
        size = len(content)
        for start, end in [(0, 1), (0, 65_535), (size // 2, size // 2 + 100_000), (size - 70_000, size - 1)]:
            response = await player.range(url, start, end)
            assert response.status_code == 206
            assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
            assert response.content == content[start : end + 1]
        suffix = await client.get(url, headers={"Range": "bytes=-1000"})
        assert suffix.content == content[-1000:]
        whole = await client.get(url)
        assert whole.status_code == 200
        assert whole.content == content
        assert engine.status(media.info_hash).readers == []


async def test_magnet_with_metadata_fetch(make_app: Callable[[], FastAPI], media: Media, seeder: Seeder) -> None:
    async with running(make_app()) as (client, _):
        user = await ts.login(client)
        magnet = f"magnet:?xt=urn:btih:{media.info_hash}&dn=Movie&x.pe=127.0.0.1:{seeder.port}"
        response = await client.post("/api/v1/torrents", headers=user.headers, json={"magnet": magnet})
        assert response.status_code == 201, response.text
        player = Player(client, user, response.json()["id"])
        srt_index = media.file_index("movie.srt")
        url = await player.url(srt_index)  # waits for metadata
        assert (await client.get(url)).content == media.files["movie.srt"]
        detail = (await client.get(f"/api/v1/torrents/{player.torrent_id}", headers=user.headers)).json()
        assert detail["name"] == "Movie"
        assert detail["total_size"] == sum(len(d) for d in media.files.values())
        vtt = await client.get(
            f"/api/v1/torrents/{player.torrent_id}/files/{srt_index}/subtitles.vtt", headers=user.headers
        )
        assert vtt.text.startswith("WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nHello")


async def test_cold_seek_and_concurrent_readers_before_completion(
    make_app: Callable[[], FastAPI], slow_media: Media, slow_seeder: Seeder
) -> None:
    async with running(make_app()) as (client, engine):
        player = await upload(client, engine, slow_media, slow_seeder)
        content, url = slow_media.files[MOVIE], await player.url(slow_media.file_index(MOVIE))
        seek = int(len(content) * 0.6)
        response = await player.range(url, seek, seek + 65_535)
        assert response.content == content[seek : seek + 65_536]
        assert engine.status(slow_media.info_hash).progress < 0.9  # served long before the file is complete
        a, b = len(content) // 5, int(len(content) * 0.8)
        first, second = await asyncio.gather(player.range(url, a, a + 40_000), player.range(url, b, b + 40_000))
        assert first.content == content[a : a + 40_001]
        assert second.content == content[b : b + 40_001]
        metrics = (await client.get("/metrics")).text
        assert "ts_stream_seek_seconds_count 3.0" in metrics


async def test_disconnecting_reader_releases_its_window(
    make_app: Callable[[], FastAPI], slow_media: Media, slow_seeder: Seeder
) -> None:
    async with running(make_app()) as (client, engine):
        await upload(client, engine, slow_media, slow_seeder)
        index = slow_media.file_index(MOVIE)
        sent: list[dict[str, Any]] = []
        gone = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body":
                assert engine.status(slow_media.info_hash).readers != []
                gone.set()

        async def open_reader() -> FileReader:
            return await engine.open_reader(slow_media.info_hash, index)

        size = len(slow_media.files[MOVIE])
        response = StreamResponse(
            open_reader=open_reader,
            start=0,
            length=size,
            status_code=200,
            headers={"Content-Length": str(size)},
            metrics=client._transport.app.state.metrics,  # type: ignore[attr-defined]
        )
        await asyncio.wait_for(response({"type": "http", "method": "GET"}, receive, send), 30)
        body = b"".join(m.get("body", b"") for m in sent)
        assert 0 < len(body) < size
        assert body == slow_media.files[MOVIE][: len(body)]
        assert engine.status(slow_media.info_hash).readers == []


async def test_restart_serves_verified_pieces_without_downloading_again(
    make_app: Callable[[], FastAPI], media: Media, seeder: Seeder
) -> None:
    async with running(make_app()) as (client, engine):
        player = await upload(client, engine, media, seeder)
        url = await player.url(media.file_index(MOVIE))
        assert (await client.get(url)).content == media.files[MOVIE]
    async with running(make_app()) as (client, engine):  # same data dir and database, no peer
        restarted = Player(client, player.user, player.torrent_id)
        url = await restarted.url(media.file_index(MOVIE))
        response = await restarted.range(url, 1000, 200_000)
        assert response.content == media.files[MOVIE][1000:200_001]
        assert engine.payload_downloaded(media.info_hash) == 0
