"""Concurrency caps on long-lived responses (issue 12, item 6): stream bodies and event streams per user,
and engine readers per node (stream bodies and the readers the media loopback source opens for ffmpeg).
Each refusal is 429 with ``Retry-After``; counts live on this node's event loop.

A lease is taken before the response starts and released exactly once when it ends (or never starts).
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Self

from torrent_streamer.core.errors import RateLimited
from torrent_streamer.core.state import Services
from torrent_streamer.engine import FileInfo, FileReader

STREAM_CAPS_KEY = "stream_caps"
EVENT_CAPS_KEY = "event_caps"


class TooManyStreams(RateLimited):
    slug, title = "too-many-streams", "Too many open streams"


class Lease:
    """One open response; ``release()`` is idempotent."""

    def __init__(self, caps: ConcurrencyCaps, user_id: uuid.UUID | None) -> None:
        self._caps, self._user_id, self._held = caps, user_id, True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._caps.give_back(self._user_id)


class ConcurrencyCaps:
    """At most ``per_user`` open responses per user and ``total`` on this node (``None``: no node cap)."""

    def __init__(self, *, per_user: int, total: int | None, retry_after: int, what: str) -> None:
        self.per_user, self.total, self.retry_after, self.what = per_user, total, retry_after, what
        self._open: dict[uuid.UUID, int] = {}
        self.open_total = 0

    def acquire(self, user_id: uuid.UUID) -> Lease:
        self._check_node()
        if self._open.get(user_id, 0) >= self.per_user:
            raise TooManyStreams(
                self.retry_after, f"You have {self.per_user} open {self.what}; close one or retry shortly."
            )
        self._open[user_id] = self._open.get(user_id, 0) + 1
        self.open_total += 1
        return Lease(self, user_id)

    def acquire_node(self) -> Lease:
        """A slot counted against the node cap only: a reader the node opens for itself (ffmpeg's)."""
        self._check_node()
        self.open_total += 1
        return Lease(self, None)

    def _check_node(self) -> None:
        if self.total is not None and self.open_total >= self.total:
            raise TooManyStreams(self.retry_after, f"The server has too many open {self.what}; retry shortly.")

    def give_back(self, user_id: uuid.UUID | None) -> None:
        if user_id is not None:
            left = self._open.get(user_id, 0) - 1
            if left > 0:
                self._open[user_id] = left
            else:
                self._open.pop(user_id, None)
        self.open_total -= 1

    def open_for(self, user_id: uuid.UUID) -> int:
        return self._open.get(user_id, 0)


def _caps(services: Services, key: str, per_user: int, total: int | None, what: str) -> ConcurrencyCaps:
    """The node's caps for one kind of response, made on first use (never at import time)."""
    caps: ConcurrencyCaps | None = services.extras.get(key)
    if caps is None:
        retry_after = services.settings.stream_busy_retry_after_seconds
        caps = ConcurrencyCaps(per_user=per_user, total=total, retry_after=retry_after, what=what)
        services.extras[key] = caps
    return caps


def stream_caps(services: Services) -> ConcurrencyCaps:
    """Stream bodies per user (``TS_STREAM_MAX_PER_USER``); engine readers per node (``TS_STREAM_MAX_READERS``):
    stream bodies and, through ``acquire_node``, the media loopback source's readers for ffmpeg."""
    s = services.settings
    return _caps(services, STREAM_CAPS_KEY, s.stream_max_per_user, s.stream_max_readers, "streams")


def event_caps(services: Services) -> ConcurrencyCaps:
    """Server-Sent Event streams per user (``TS_EVENTS_MAX_PER_USER``)."""
    return _caps(services, EVENT_CAPS_KEY, services.settings.events_max_per_user, None, "event streams")


class LeasedReader:
    """A file reader that gives its stream slot back when it is closed."""

    def __init__(self, reader: FileReader, lease: Lease) -> None:
        self._reader, self._lease = reader, lease

    @property
    def size(self) -> int:
        return self._reader.size

    @property
    def file_info(self) -> FileInfo:
        return self._reader.file_info

    async def read(self, offset: int, max_bytes: int) -> bytes:
        return await self._reader.read(offset, max_bytes)

    async def disk_span(self, offset: int, max_bytes: int) -> tuple[int, int] | None:
        return await self._reader.disk_span(offset, max_bytes)

    async def aclose(self) -> None:
        try:
            await self._reader.aclose()
        finally:
            self._lease.release()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
