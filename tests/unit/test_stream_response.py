"""The stream response owns its reader: released on completion, on client disconnect and on an
engine failure mid-body; bounded chunks; problem JSON when the reader cannot be opened."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from torrent_streamer.core.metrics import Metrics
from torrent_streamer.engine import EngineConfig, FileReader, MemoryEngine, ReadTimeout, TorrentNotFound
from torrent_streamer.streaming.response import StreamResponse

DATA = bytes(range(256)) * 1200  # 300 KiB


async def engine_with_file() -> tuple[MemoryEngine, str]:
    engine = MemoryEngine(EngineConfig(download_dir=Path("/nonexistent"), state_dir=Path("/nonexistent")))
    torrent = engine.seed("T", [("a.mp4", DATA)], piece_length=16384)
    info = await engine.add_torrent_file(torrent)
    return engine, info.info_hash


class Client:
    """ASGI receive/send of one client; disconnects after ``disconnect_after`` body messages."""

    def __init__(self, disconnect_after: int | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.disconnect_after = disconnect_after
        self.gone = asyncio.Event()
        self.sent_request = False

    async def receive(self) -> dict[str, Any]:
        if not self.sent_request:
            self.sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        bodies = [m for m in self.messages if m["type"] == "http.response.body"]
        if self.disconnect_after is not None and len(bodies) >= self.disconnect_after:
            self.gone.set()

    @property
    def body(self) -> bytes:
        return b"".join(m["body"] for m in self.messages if m["type"] == "http.response.body")


def response(engine: MemoryEngine, info_hash: str, start: int, length: int, opener: Any = None) -> StreamResponse:
    async def open_reader() -> FileReader:
        return await engine.open_reader(info_hash, 0)

    return StreamResponse(
        open_reader=opener or open_reader,
        start=start,
        length=length,
        status_code=206,
        headers={"Content-Length": str(length)},
        metrics=Metrics(),
        chunk_bytes=4096,
    )


SCOPE = {"type": "http", "method": "GET"}


async def test_complete_body_in_bounded_chunks_then_released() -> None:
    engine, key = await engine_with_file()
    client = Client()
    await response(engine, key, 1000, 200_000)(SCOPE, client.receive, client.send)
    assert client.messages[0]["status"] == 206
    assert client.body == DATA[1000:201_000]
    bodies = [m for m in client.messages if m["type"] == "http.response.body"]
    assert max(len(m["body"]) for m in bodies) <= 4096
    assert bodies[-1]["more_body"] is False
    assert engine.stats().readers == 0


async def test_disconnect_mid_body_releases_the_reader() -> None:
    engine, key = await engine_with_file()
    client = Client(disconnect_after=3)
    await asyncio.wait_for(response(engine, key, 0, len(DATA))(SCOPE, client.receive, client.send), 5)
    assert 3 <= len(client.body) // 4096 < len(DATA) // 4096
    assert engine.stats().readers == 0


async def test_engine_failure_mid_body_aborts_and_releases() -> None:
    engine, key = await engine_with_file()
    closed: list[bool] = []

    class Failing:
        def __init__(self, inner: FileReader) -> None:
            self.inner, self.reads = inner, 0

        async def read(self, offset: int, max_bytes: int) -> bytes:
            self.reads += 1
            if self.reads > 2:
                raise ReadTimeout("piece did not arrive")
            return await self.inner.read(offset, max_bytes)

        async def aclose(self) -> None:
            closed.append(True)
            await self.inner.aclose()

    async def opener() -> Any:
        return Failing(await engine.open_reader(key, 0))

    client = Client()
    await response(engine, key, 0, len(DATA), opener)(SCOPE, client.receive, client.send)
    assert len(client.body) == 2 * 4096  # short of Content-Length: the server closes the connection
    assert client.messages[-1].get("more_body") is True
    assert closed == [True]
    assert engine.stats().readers == 0


async def test_reader_that_cannot_open_gives_a_problem() -> None:
    engine, _ = await engine_with_file()

    async def opener() -> Any:
        raise TorrentNotFound("unknown torrent")

    client = Client()
    await response(engine, "0" * 40, 0, 10, opener)(SCOPE, client.receive, client.send)
    assert client.messages[0]["status"] == 404
    assert b"application/problem+json" in dict(client.messages[0]["headers"])[b"content-type"]
