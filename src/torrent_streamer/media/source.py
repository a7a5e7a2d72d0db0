"""A loopback-only HTTP interface over the engine reader, the one door through which ffmpeg reads.

Each file gets an unguessable path; requests are served with ``Range`` from an engine reader that
waits for missing pieces, so ffmpeg never sees a hole and never touches the partial file on disk.

Every engine reader opened here counts against the node's reader cap (``TS_STREAM_MAX_READERS``,
``slots``). One ffmpeg run gets its own URL (``run_url``): when it seeks, ffmpeg opens the next
connection before it closes the last, so the connections of one run share one slot. A connection
refused for want of a slot is answered 429 and remembered, so the media service can answer its
client 429 too.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

import structlog

from torrent_streamer.core.errors import RateLimited
from torrent_streamer.engine import Engine, EngineError, FileReader, ReadTimeout

log = structlog.get_logger("torrent_streamer.media")

CHUNK_BYTES = 256 * 1024
MAX_HEAD_BYTES = 8192
HEAD_TIMEOUT_SECONDS = 10.0
_RANGE = re.compile(r"^bytes=(\d{1,19})-(\d{0,19})$")
_RUN = re.compile(r"^run=([A-Za-z0-9_-]{8,32})$")


class Slot(Protocol):
    def release(self) -> None: ...


class ReaderSlots(Protocol):
    """The node's reader cap (``torrents.limits.ConcurrencyCaps``); ``acquire_node`` raises ``RateLimited``."""

    def acquire_node(self) -> Slot: ...


@dataclass
class _Hold:
    """One slot and the open connections sharing it (the connections of one ffmpeg run)."""

    slot: Slot
    users: int = 1


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
        self.slots: ReaderSlots | None = None  # set at start-up by the streaming layer (the node cap)
        self._runs: dict[str, _Hold] = {}
        self._refusals: dict[tuple[str, int], tuple[int, RateLimited]] = {}

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

    def run_url(self, info_hash: str, file_index: int) -> str:
        """The file's URL for one ffmpeg run: all its connections hold one reader slot between them."""
        return f"{self.url_for(info_hash, file_index)}?run={secrets.token_urlsafe(12)}"

    def refusals(self, info_hash: str, file_index: int) -> int:
        """How many connections for this file were refused a reader slot (for ``refusal_since``)."""
        return self._refusals.get((info_hash, file_index), (0, None))[0]

    def refusal_since(self, info_hash: str, file_index: int, count: int) -> RateLimited | None:
        """The latest refusal for this file when there was one after ``refusals()`` returned ``count``."""
        found = self._refusals.get((info_hash, file_index))
        return found[1] if found is not None and found[0] > count else None

    def _hold(self, run: str | None) -> _Hold | None:
        """A slot for one more connection: its run's, or a new one (``RateLimited`` when the node is full)."""
        if self.slots is None:
            return None
        held = self._runs.get(run) if run is not None else None
        if held is not None:
            held.users += 1
            return held
        held = _Hold(self.slots.acquire_node())
        if run is not None:
            self._runs[run] = held
        return held

    def _let_go(self, run: str | None, held: _Hold | None) -> None:
        if held is None:
            return
        held.users -= 1
        if held.users == 0:
            if run is not None and self._runs.get(run) is held:
                del self._runs[run]
            held.slot.release()

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
        path, _, query = parts[1].partition("?")
        target = self._files.get(path.lstrip("/"))
        if target is None:
            return await _reply(wr, 404, "Not Found")
        run_match = _RUN.match(query)
        run = run_match.group(1) if run_match else None
        try:
            held = self._hold(run)
        except RateLimited as exc:
            count = self._refusals.get(target, (0, exc))[0]
            self._refusals[target] = (count + 1, exc)
            log.info("loopback_reader_refused", reason="node reader cap")
            return await _reply(wr, 429, "Too Many Requests", f"Retry-After: {exc.retry_after}\r\n")
        try:
            await self._serve_file(wr, parts[0], headers, target)
        finally:
            self._let_go(run, held)
        return None

    async def _serve_file(self, wr: asyncio.StreamWriter, method: str, headers: dict[str, str],
                          target: tuple[str, int]) -> None:  # fmt: skip
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
            if method == "HEAD":
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
