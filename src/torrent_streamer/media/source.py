"""A loopback-only HTTP interface over the engine reader, the one door through which ffmpeg reads.

Each file gets an unguessable path; requests are served with ``Range`` from an engine reader that
waits for missing pieces, so ffmpeg never sees a hole and never touches the partial file on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time

import structlog

from torrent_streamer.engine import Engine, EngineError, FileReader, ReadTimeout

log = structlog.get_logger("torrent_streamer.media")

CHUNK_BYTES = 256 * 1024
MAX_HEAD_BYTES = 8192
HEAD_TIMEOUT_SECONDS = 10.0
_RANGE = re.compile(r"^bytes=(\d{1,19})-(\d{0,19})$")


def parse_simple_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` for ``bytes=a-`` / ``bytes=a-b``; ``None`` means the whole file.

    ffmpeg only ever sends these two forms; anything else is served whole. Raises ``ValueError``
    when the start lies at or past the end (answered 416).
    """
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    start = int(match.group(1))
    end = size if not match.group(2) else min(size, int(match.group(2)) + 1)
    if start >= size or end <= start:
        raise ValueError("range not satisfiable")
    return start, end


class LoopbackSource:
    """Serves registered files of the engine on ``127.0.0.1`` to the encoders this process starts."""

    def __init__(self, engine: Engine, wait_seconds: float) -> None:
        self._engine = engine
        self._wait_seconds = wait_seconds
        self._keys: dict[tuple[str, int], str] = {}
        self._files: dict[str, tuple[str, int]] = {}
        self._server: asyncio.Server | None = None
        self._port = 0
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            for task in list(self._connections):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._server.wait_closed()
            self._server = None

    def url_for(self, info_hash: str, file_index: int) -> str:
        """The loopback URL of one file (stable for the life of the process)."""
        if self._server is None:
            raise RuntimeError("loopback source is not started")
        key = self._keys.get((info_hash, file_index))
        if key is None:
            key = secrets.token_urlsafe(24)
            self._keys[(info_hash, file_index)] = key
            self._files[key] = (info_hash, file_index)
        return f"http://127.0.0.1:{self._port}/{key}"

    def forget(self, info_hash: str) -> None:
        """Drop the URLs of a torrent that left the engine."""
        for target in [t for t in self._keys if t[0] == info_hash]:
            self._files.pop(self._keys.pop(target), None)

    async def _accept(self, rd: asyncio.StreamReader, wr: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._serve(rd, wr)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass  # shutdown: the connection handler ends quietly (asyncio logs a cancelled handler)
        finally:
            if task is not None:
                self._connections.discard(task)
            wr.close()
            with contextlib.suppress(Exception):
                await wr.wait_closed()

    async def _serve(self, rd: asyncio.StreamReader, wr: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(rd.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_SECONDS)
        if len(head) > MAX_HEAD_BYTES:
            return await _reply(wr, 431, "Request Header Fields Too Large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
            return await _reply(wr, 405, "Method Not Allowed")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        target = self._files.get(parts[1].lstrip("/"))
        if target is None:
            return await _reply(wr, 404, "Not Found")
        reader = await self._engine.open_reader(*target)
        try:
            size = reader.size
            try:
                span = parse_simple_range(headers.get("range"), size)
            except ValueError:
                return await _reply(wr, 416, "Range Not Satisfiable", f"Content-Range: bytes */{size}\r\n")
            start, end = span if span is not None else (0, size)
            status = "206 Partial Content" if span is not None else "200 OK"
            extra = f"Content-Range: bytes {start}-{end - 1}/{size}\r\n" if span is not None else ""
            wr.write(
                (
                    f"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n"
                    f"Content-Length: {end - start}\r\n{extra}Connection: close\r\n\r\n"
                ).encode("latin-1")
            )
            await wr.drain()
            if parts[0] == "HEAD":
                return None
            offset = start
            while offset < end:
                chunk = await self._read(reader, offset, min(CHUNK_BYTES, end - offset))
                offset += len(chunk)
                wr.write(chunk)
                await wr.drain()
        except EngineError as exc:
            log.warning("loopback_read_failed", error=type(exc).__name__)
        finally:
            await reader.aclose()
        return None

    async def _read(self, reader: FileReader, offset: int, n: int) -> bytes:
        """Wait for the piece (engine read timeouts retried) up to ``wait_seconds`` in total."""
        deadline = time.monotonic() + self._wait_seconds
        while True:
            try:
                return await reader.read(offset, n)
            except ReadTimeout:
                if time.monotonic() >= deadline:
                    raise


async def _reply(wr: asyncio.StreamWriter, code: int, reason: str, extra: str = "") -> None:
    wr.write(f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n".encode("latin-1"))
    await wr.drain()
