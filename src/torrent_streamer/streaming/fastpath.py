"""Stream grants: a stream token's database checks, remembered for a few seconds per token.

A player sends many Range requests with one URL. The signature and expiry are checked on every
request; the checks that need the database (live session, ownership, takedown) are reused for
``stream_grant_ttl_seconds``, so a revoked session, a removed entry or a takedown stop new requests
within that time (a response already flowing was never cut by them either).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from torrent_streamer.core import revocation
from torrent_streamer.core.state import Services
from torrent_streamer.engine import FileInfo, TorrentStatus
from torrent_streamer.media.runtime import MEDIA_KEY
from torrent_streamer.media.service import MediaService
from torrent_streamer.torrents.limits import stream_caps

GRANTS_KEY = "stream_grants"
MAX_GRANTS = 10_000


@dataclass(frozen=True, slots=True)
class StreamTarget:
    info_hash: str
    file: FileInfo
    entry_id: uuid.UUID
    user_id: uuid.UUID
    status: TorrentStatus  # the torrent as it was when checked (its file list)


class StreamGrants:
    """Token → checked target, for ``ttl``; least recently used dropped beyond ``max_entries``.

    A grant also dies when this process revokes a session or removes a library entry (any of them:
    ``core.revocation``), so revoking here stops every URL at once; elsewhere within ``ttl``."""

    def __init__(self, ttl: timedelta, max_entries: int = MAX_GRANTS) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._grants: OrderedDict[str, tuple[StreamTarget, datetime, int]] = OrderedDict()

    def get(self, token: str, now: datetime) -> StreamTarget | None:
        found = self._grants.get(token)
        if found is None:
            return None
        target, checked_at, epoch = found
        if not checked_at <= now < checked_at + self.ttl or epoch != revocation.current():
            del self._grants[token]
            return None
        self._grants.move_to_end(token)
        return target

    def put(self, token: str, target: StreamTarget, now: datetime, epoch: int) -> None:
        """Remember ``target`` for ``token``; ``epoch`` is ``revocation.current()`` from before the
        checks ran (a revocation during them makes the grant stale at once)."""
        if self.ttl <= timedelta(0):
            return
        self._grants[token] = (target, now, epoch)
        self._grants.move_to_end(token)
        while len(self._grants) > self.max_entries:
            self._grants.popitem(last=False)

    def __len__(self) -> int:
        return len(self._grants)


@asynccontextmanager
async def stream_lifespan(services: Services) -> AsyncIterator[None]:
    """One grant cache per process (each node checks its own requests); the media service's readers
    for ffmpeg count against the node's reader cap, as stream bodies do (issue 12, item 6)."""
    services.extras[GRANTS_KEY] = StreamGrants(timedelta(seconds=services.settings.stream_grant_ttl_seconds))
    media: MediaService | None = services.extras.get(MEDIA_KEY)
    if media is not None:
        media.count_readers(stream_caps(services))
    yield


def grants_of(services: Services) -> StreamGrants | None:
    grants: StreamGrants | None = services.extras.get(GRANTS_KEY)
    return grants
