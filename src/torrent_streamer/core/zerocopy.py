"""Zero-copy response bodies: ``os.sendfile`` from a file straight onto the client's socket (issue 15).

uvicorn offers no ASGI extension for it (neither ``http.response.zerocopysend`` nor ``pathsend``), so
the app looks behind the ``send`` uvicorn calls it with: when that is uvicorn's httptools request
cycle on a plain TCP socket, ``offer_sendfile`` puts a ``SendFile`` into
``scope["extensions"][SENDFILE_KEY]``. Anything else (TLS, the h11 implementation, another server,
an in-process test client, a uvicorn whose cycle changed shape) gets no offer and responses send
their bytes through ``send`` as before.

The sender keeps uvicorn's own bookkeeping true: it writes only after the headers have left the
transport's buffer, only within the response's ``Content-Length``, and takes what it sent off the
length uvicorn still expects, so the response ends with an empty ``http.response.body`` as usual.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any, Protocol

from starlette.types import Scope, Send

SENDFILE_KEY = "torrent_streamer.sendfile"
_CYCLE_MODULE = "uvicorn.protocols.http.httptools_impl"
_CYCLE_FIELDS = ("transport", "expected_content_length", "chunked_encoding", "response_started", "response_complete")


class SendFile(Protocol):
    """Send ``count`` bytes of the open file ``fd`` from ``offset`` as the next part of the body."""

    async def __call__(self, fd: int, offset: int, count: int) -> None: ...


def sendfile_of(scope: Scope) -> SendFile | None:
    sender = scope.get("extensions", {}).get(SENDFILE_KEY)
    return sender if isinstance(sender, SocketSendFile) else None


def offer_sendfile(scope: Scope, send: Send) -> None:
    """Offer zero-copy sends in ``scope`` when ``send`` is uvicorn's httptools cycle on a plain socket."""
    cycle = getattr(send, "__self__", None)
    if cycle is None or type(cycle).__module__ != _CYCLE_MODULE:
        return
    if not all(hasattr(cycle, name) for name in _CYCLE_FIELDS):
        return
    transport = cycle.transport
    if any(transport.get_extra_info(k) is not None for k in ("sslcontext", "ssl_object")):
        return  # TLS: the bytes must go through the TLS layer, never in the clear
    sock = transport.get_extra_info("socket")
    if sock is None or sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    scope["extensions"] = {**scope.get("extensions", {}), SENDFILE_KEY: SocketSendFile(cycle, sock.fileno())}


class SocketSendFile:
    """``SendFile`` on one uvicorn (httptools) connection."""

    def __init__(self, cycle: Any, sock_fd: int) -> None:
        self._cycle = cycle
        self._sock_fd = sock_fd

    async def __call__(self, fd: int, offset: int, count: int) -> None:
        # Both descriptors are duplicated before the first await: whoever closes the originals
        # meanwhile (a reader closed by a takedown) cannot make this send another file's bytes.
        cycle, transport = self._cycle, self._cycle.transport
        if not cycle.response_started or cycle.response_complete or cycle.chunked_encoding is not False:
            raise RuntimeError("sendfile needs a started response with a Content-Length")
        if count > cycle.expected_content_length:
            raise RuntimeError("Response content longer than Content-Length")
        src = os.dup(fd)
        dst = os.dup(self._sock_fd)
        try:
            loop = asyncio.get_running_loop()
            while transport.get_write_buffer_size():  # the headers (or earlier body) leave first
                _alive(transport)
                await _writable(loop, dst)
                await asyncio.sleep(0)  # the transport's own writer runs on the same readiness
            while count:
                _alive(transport)
                try:
                    sent = os.sendfile(dst, src, offset, count)
                except BlockingIOError:
                    await _writable(loop, dst)
                    continue
                if sent == 0:
                    raise OSError("the file ended before its expected size")
                offset += sent
                count -= sent
                cycle.expected_content_length -= sent
        finally:
            os.close(src)
            os.close(dst)


def _alive(transport: asyncio.BaseTransport) -> None:
    if transport.is_closing():
        raise ConnectionResetError("the client went away")


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, wake)
    try:
        await ready
    finally:
        loop.remove_writer(fd)
