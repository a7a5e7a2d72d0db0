"""Zero-copy stream bodies (issue 15): once libtorrent has proven a completed file written, the app
served by uvicorn sends it with ``sendfile``, byte-exact; never over TLS; a client that goes away
mid-send frees its stream.

The app runs under a real uvicorn (httptools) on loopback with the real engine and a loopback
seeder: the in-process ASGI client used elsewhere offers no socket, so it never takes this path.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
import uvloop
from fastapi import FastAPI

from tests import support
from tests.auth_helpers import new_email, new_password
from tests.e2e.test_serve_tls import self_signed
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.engine import LibtorrentEngine
from torrent_streamer.streaming import response as stream_response

from .swarm import Media, Seeder, make_media

pytestmark = pytest.mark.engine
MOVIE = "movie.mp4"


@asynccontextmanager
async def served(app: FastAPI, tls: tuple[Path, Path] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    port = support.free_port()
    extra: dict[str, Any] = {}
    verify: ssl.SSLContext | bool = True
    if tls is not None:
        extra = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])}
        verify = ssl.create_default_context(cafile=str(tls[0]))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http="httptools", log_level="warning", **extra)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    scheme, host = ("https", "localhost") if tls else ("http", "127.0.0.1")
    try:
        async with httpx.AsyncClient(base_url=f"{scheme}://{host}:{port}", timeout=30, verify=verify) as client:
            yield client
    finally:
        server.should_exit = True
        await serving


async def stream_url(client: httpx.AsyncClient, app: FastAPI, media: Media, seeder: Seeder) -> str:
    email, password = new_email(), new_password()  # over the network: the ASGI-client helpers do not apply
    registered = await client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert registered.status_code == 201, registered.text
    tokens = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    added = await client.post("/api/v1/torrents", headers=auth, files={"torrent": ("m", media.torrent)})
    assert added.status_code == 201, added.text
    engine = app.state.services.extras["engine"]
    assert isinstance(engine, LibtorrentEngine)
    engine.connect_peer(media.info_hash, "127.0.0.1", seeder.port)
    minted = await client.post(
        f"/api/v1/torrents/{added.json()['id']}/files/{media.file_index(MOVIE)}/stream", headers=auth
    )
    assert minted.status_code == 200, minted.text
    return urlsplit(minted.json()["url"]).path


def sent_by_sendfile(metrics: Metrics) -> float:
    return metrics.stream_sendfile_bytes._value.get()


def sent(metrics: Metrics) -> float:
    return metrics.stream_bytes._value.get()


async def complete_and_proven(client: httpx.AsyncClient, url: str, data: bytes, metrics: Metrics, tls: bool) -> None:
    """Read the whole file until it is downloaded and libtorrent's flush proved it written (bounded)."""
    for _ in range(200):
        got = await client.get(url)
        assert got.status_code == 200
        assert got.content == data
        if tls or sent_by_sendfile(metrics) > 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the completed file was never sent by sendfile")


@asynccontextmanager
async def proven_stream(
    app: FastAPI, media: Media, seeder: Seeder, tls: tuple[Path, Path] | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, str, Metrics]]:
    """The app served by uvicorn, the movie downloaded in full, proven written; its stream URL."""
    async with served(app, tls) as client:
        metrics = app.state.services.metrics
        url = await stream_url(client, app, media, seeder)
        await complete_and_proven(client, url, media.files[MOVIE], metrics, tls=tls is not None)
        yield client, url, metrics


async def test_a_proven_file_goes_out_by_sendfile_byte_exact(
    make_app: Callable[[], FastAPI], media: Media, seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_response, "SENDFILE_CHUNK_BYTES", 100_003)  # many spans per body
    app, data = make_app(), media.files[MOVIE]
    async with proven_stream(app, media, seeder) as (client, url, metrics):
        for start, end in [(0, len(data) - 1), (1, 1), (12345, 2_000_000), (len(data) - 70_000, len(data) - 1)]:
            before, before_all = sent_by_sendfile(metrics), sent(metrics)
            got = await client.get(url, headers={"Range": f"bytes={start}-{end}"})
            assert got.status_code == 206
            assert got.headers["content-length"] == str(end - start + 1)
            assert got.content == data[start : end + 1]
            assert sent_by_sendfile(metrics) - before == end - start + 1  # every byte by sendfile
            assert sent(metrics) - before_all == end - start + 1
        head = await client.head(url)  # HEAD sends headers only
        assert head.status_code == 200
        assert head.content == b""


async def test_over_tls_the_file_never_goes_out_by_sendfile(
    make_app: Callable[[], FastAPI], media: Media, seeder: Seeder, tmp_path: Path
) -> None:
    app, data = make_app(), media.files[MOVIE]
    async with proven_stream(app, media, seeder, tls=self_signed(tmp_path)) as (client, url, metrics):
        for _ in range(20):  # long after the proof: still through TLS, byte-exact
            got = await client.get(url, headers={"Range": "bytes=100-"})
            assert got.status_code == 206
            assert got.content == data[100:]
            await asyncio.sleep(0.05)
        assert sent(metrics) > 0
        assert sent_by_sendfile(metrics) == 0


def test_under_uvloop_as_deployed_the_file_goes_out_by_sendfile(
    make_app: Callable[[], FastAPI], media: Media, seeder: Seeder
) -> None:
    """`torrent-streamer serve` runs uvicorn on uvloop: the same path, on uvloop's transports."""
    app, data = make_app(), media.files[MOVIE]

    async def scenario() -> None:
        async with proven_stream(app, media, seeder) as (client, url, metrics):
            before = sent_by_sendfile(metrics)
            got = await client.get(url, headers={"Range": "bytes=777-"})
            assert got.status_code == 206
            assert got.content == data[777:]
            assert sent_by_sendfile(metrics) - before == len(data) - 777

    uvloop.run(scenario())


def _read_some_then_close(port: int, path: str, want: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        sock.settimeout(30)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        got = 0
        while got < want:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += len(chunk)
        return got


async def test_a_client_gone_mid_sendfile_frees_its_stream(make_app: Callable[[], FastAPI], tmp_path: Path) -> None:
    media = make_media(tmp_path / "big", name="Big", mdat=24 * 1024 * 1024, seed=11)  # more than socket buffers
    seeder = Seeder(media)
    app, data = make_app(), media.files[MOVIE]
    try:
        async with proven_stream(app, media, seeder) as (client, url, metrics):
            engine = app.state.services.extras["engine"]
            port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
            before = sent_by_sendfile(metrics)
            got = await asyncio.to_thread(_read_some_then_close, port, url, 64 * 1024)
            assert got >= 64 * 1024
            for _ in range(200):  # the server notices, stops sending and closes the reader
                if engine.stats().readers == 0:
                    break
                await asyncio.sleep(0.05)
            assert engine.stats().readers == 0
            assert sent_by_sendfile(metrics) - before < len(data)  # the body was cut short
            again = await client.get(url, headers={"Range": "bytes=0-99"})  # and the stream slot is free
            assert again.status_code == 206
            assert again.content == data[:100]
    finally:
        seeder.close()
