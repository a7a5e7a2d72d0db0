"""The stream response: a pure-ASGI response that owns its file reader from open to close.

Headers go out at once; the body follows in bounded chunks as verified bytes arrive; the reader is
released in ``finally`` whether the body completed, failed, or the client went away. A file proven on
disk goes out by ``sendfile`` when the server offers it (``core.zerocopy``): no copy through Python.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

import anyio
import structlog
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from torrent_streamer.core.errors import problem_response
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.core.zerocopy import SendFile, sendfile_of
from torrent_streamer.engine import EngineError, FileReader
from torrent_streamer.torrents.errors import http_error

log = structlog.get_logger("torrent_streamer.streaming")

CHUNK_BYTES = 2 * 1024 * 1024  # per read: the engine coalesces verified pieces (or reads a completed file) up to this
SENDFILE_CHUNK_BYTES = 8 * 1024 * 1024  # per sendfile span: how long a takedown or a revocation may wait


class StreamResponse(Response):
    """Serve ``length`` bytes of one file from ``start`` (GET only: HEAD never opens a reader)."""

    def __init__(
        self,
        *,
        open_reader: Callable[[], Awaitable[FileReader]],
        start: int,
        length: int,
        status_code: int,
        headers: Mapping[str, str],
        metrics: Metrics,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        super().__init__(status_code=status_code, headers=dict(headers))
        self._open_reader = open_reader
        self._start = start
        self._length = length
        self._metrics = metrics
        self._chunk_bytes = chunk_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        began = time.monotonic()
        try:
            reader = await self._open_reader()
        except EngineError as exc:
            error = http_error(exc)
            response = problem_response(error.status, slug=error.slug_override, detail=error.detail)
            await response(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if self._length == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            async with anyio.create_task_group() as group:

                async def watch_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch_disconnect)
                await self._send_body(reader, send, began, sendfile_of(scope))
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await reader.aclose()

    async def _send_body(self, reader: FileReader, send: Send, began: float, sendfile: SendFile | None) -> None:
        offset, end = self._start, self._start + self._length
        first, open_body = True, False  # open_body: the last bytes went by sendfile, the body is not ended
        try:
            while offset < end:
                span = await reader.disk_span(offset, min(SENDFILE_CHUNK_BYTES, end - offset)) if sendfile else None
                if span is not None and sendfile is not None:
                    fd, n = span
                    try:
                        await sendfile(fd, offset, n)
                    except OSError as exc:  # the client went away, or the file failed: abort the body
                        log.info("stream_sendfile_ended", error=type(exc).__name__, sent=offset - self._start)
                        return
                    self._metrics.stream_sendfile_bytes.inc(n)
                    open_body = True
                else:
                    chunk = await reader.read(offset, min(self._chunk_bytes, end - offset))
                    n = len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": offset + n < end})
                    open_body = False
                offset += n
                self._metrics.stream_bytes.inc(n)
                if first:
                    first = False
                    histogram = self._metrics.stream_seek if self._start > 0 else self._metrics.stream_ttfb
                    histogram.observe(time.monotonic() - began)
            if open_body:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except EngineError as exc:
            # Headers are gone: the only honest signal left is an aborted body (short of Content-Length),
            # so the server closes the connection and the player retries with a Range.
            log.warning("stream_aborted", error=type(exc).__name__, sent=offset - self._start, wanted=self._length)
