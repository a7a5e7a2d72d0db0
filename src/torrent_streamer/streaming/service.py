"""Stream authorisation: issuing signed stream URLs and turning a token back into a file to serve.

Token checks (signature, expiry) happen before any database work; the DB session is closed before bytes flow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth.service import session_is_active
from torrent_streamer.core.errors import NotFound, Unauthorized
from torrent_streamer.core.state import Services
from torrent_streamer.engine import Engine, EngineError, FileInfo, TorrentStatus
from torrent_streamer.streaming.tokens import StreamClaims, StreamTokenSigner, derive_key
from torrent_streamer.torrents import repository, service
from torrent_streamer.torrents.errors import StreamForbidden, TorrentBlocked, http_error

# Long enough for a film with pauses, short enough that a leaked URL dies the same evening.
LAST_WATCHED_RESOLUTION = timedelta(minutes=1)


class StreamSessionRevoked(Unauthorized):
    slug, title = "stream-session-revoked", "The session that issued this stream link has ended"


@dataclass(frozen=True, slots=True)
class StreamTarget:
    info_hash: str
    file: FileInfo
    entry_id: uuid.UUID
    status: TorrentStatus


def signer_for(services: Services) -> StreamTokenSigner:
    key = services.settings.secret_key
    if key is None:  # ensure_dev_secrets or the production checks always set it
        raise RuntimeError("secret key is not configured")
    return StreamTokenSigner(derive_key(key.get_secret_value()))


def find_file(status: TorrentStatus, index: int) -> FileInfo:
    for file in status.files:
        if file.index == index:
            return file
    raise NotFound("No such file in this torrent.", slug="file-not-found")


async def ready_status(engine: Engine, status: TorrentStatus, wait_seconds: float) -> TorrentStatus:
    """The status once metadata is known (magnets), waiting at most ``wait_seconds``."""
    if status.has_metadata:
        return status
    try:
        await engine.wait_metadata(status.info_hash, wait_seconds)
    except EngineError as exc:
        raise http_error(exc) from exc
    return engine.status(status.info_hash)


async def issue_target(
    session: AsyncSession,
    services: Services,
    engine: Engine,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    entry_id: uuid.UUID,
    file_index: int,
    now: datetime,
) -> tuple[str, datetime, StreamTarget]:
    """A token for one file of one of the caller's torrents, valid ``TS_STREAM_TOKEN_TTL_SECONDS``,
    and the file it reads (playback probes it)."""
    _, torrent = await service.get_owned(session, user_id, entry_id)
    if await repository.is_blocked(session, [torrent.info_hash]):
        raise TorrentBlocked("This torrent has been taken down.")
    status = await service.ensure_in_engine(engine, torrent)
    status = await ready_status(engine, status, services.settings.engine_metadata_timeout)
    file = find_file(status, file_index)
    expires_at = (now + timedelta(seconds=services.settings.stream_token_ttl_seconds)).replace(microsecond=0)
    claims = StreamClaims(user_id, session_id, entry_id, file_index, expires_at)
    token = signer_for(services).issue(claims)
    return token, expires_at, StreamTarget(torrent.info_hash, file, entry_id, status)


async def authorize(services: Services, engine: Engine, token: str) -> StreamTarget:
    """Check a stream token end to end: signature, expiry, live session, ownership, takedown list."""
    now = services.clock.now()
    claims = signer_for(services).verify(token, now)
    async with services.sessionmaker() as session:
        if not await session_is_active(session, claims.session_id, now):
            raise StreamSessionRevoked("The session that issued this stream link has ended.")
        found = await repository.get_entry(session, claims.user_id, claims.entry_id)
        if found is None:
            raise StreamForbidden("This stream link no longer matches a torrent in your library.")
        _, torrent = found
        if await repository.is_blocked(session, [torrent.info_hash]):
            raise TorrentBlocked("This torrent has been taken down.")
        if torrent.last_watched_at is None or now - torrent.last_watched_at > LAST_WATCHED_RESOLUTION:
            await repository.touch_torrent(session, torrent, now)  # for eviction order; not on every Range
            await session.commit()
    status = await service.ensure_in_engine(engine, torrent)
    status = await ready_status(engine, status, services.settings.engine_metadata_timeout)
    engine.touch(torrent.info_hash)
    return StreamTarget(torrent.info_hash, find_file(status, claims.file_index), claims.entry_id, status)


async def read_small_file(engine: Engine, info_hash: str, file: FileInfo) -> bytes:
    """A whole (small, already bounded by the caller) file of a torrent, through a reader."""
    data = bytearray()
    try:
        async with await engine.open_reader(info_hash, file.index) as reader:
            while len(data) < file.size:
                data += await reader.read(len(data), file.size - len(data))
    except EngineError as exc:
        raise http_error(exc) from exc
    return bytes(data)


def etag_for(info_hash: str, file: FileInfo) -> str:
    """Strong: the bytes of (info-hash, file index) never change, and the size pins the file."""
    return f'"{info_hash}-{file.index}-{file.size}"'
