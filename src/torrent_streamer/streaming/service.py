"""Stream authorisation: issuing signed stream URLs and turning a token back into a file to serve.

Token checks (signature, expiry) happen before any database work; the DB session is closed before bytes flow.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth.service import session_is_active
from torrent_streamer.cluster.node import cluster_of
from torrent_streamer.core import revocation
from torrent_streamer.core.errors import NotFound, Unauthorized
from torrent_streamer.core.state import Services
from torrent_streamer.engine import Engine, EngineError, FileInfo, TorrentStatus
from torrent_streamer.streaming.fastpath import StreamTarget, grants_of
from torrent_streamer.streaming.subtitles import is_subtitle
from torrent_streamer.streaming.tokens import StreamClaims, StreamTokenSigner, derive_key
from torrent_streamer.torrents import repository, service
from torrent_streamer.torrents.errors import FileNotPlayable, StreamForbidden, TorrentBlocked, http_error
from torrent_streamer.torrents.models import Torrent
from torrent_streamer.torrents.names import display_name

# Long enough for a film with pauses, short enough that a leaked URL dies the same evening.
LAST_WATCHED_RESOLUTION = timedelta(minutes=1)


class StreamSessionRevoked(Unauthorized):
    slug, title = "stream-session-revoked", "The session that issued this stream link has ended"


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


def playable(file: FileInfo) -> FileInfo:
    """The file, when the service would play it or offer it as subtitles; otherwise a 422 naming why."""
    if file.streamable or is_subtitle(file.name):
        return file
    raise FileNotPlayable(
        f"{display_name(file.name)} is not a video, audio or subtitle file, so it cannot be played.",
        extra={"file_index": file.index},
    )


async def ready_status(engine: Engine, status: TorrentStatus, wait_seconds: float) -> TorrentStatus:
    """The status once metadata is known (magnets), waiting at most ``wait_seconds``."""
    if status.has_metadata:
        return status
    try:
        await engine.wait_metadata(status.info_hash, wait_seconds)
    except EngineError as exc:
        raise http_error(exc) from exc
    return engine.status(status.info_hash)


async def _touch_if_stale(session: AsyncSession, torrent: Torrent, now: datetime) -> None:
    """Record the watch for eviction order, at most once per ``LAST_WATCHED_RESOLUTION``."""
    if torrent.last_watched_at is None or now - torrent.last_watched_at > LAST_WATCHED_RESOLUTION:
        await repository.touch_torrent(session, torrent, now)
        await session.commit()


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
    epoch = revocation.current()
    _, torrent = await service.get_owned_unblocked(session, user_id, entry_id)
    status = await service.ensure_in_engine(session, engine, torrent)
    waited = not status.has_metadata
    status = await ready_status(engine, status, services.settings.engine_metadata_timeout)
    if waited or set(status.info_hashes) - {torrent.info_hash}:  # a takedown meanwhile, a hybrid's other hash
        await service.refuse_if_blocked(session, engine, torrent.info_hash, status.info_hashes)
    file = playable(find_file(status, file_index))
    expires_at = (now + timedelta(seconds=services.settings.stream_token_ttl_seconds)).replace(microsecond=0)
    claims = StreamClaims(user_id, session_id, entry_id, file_index, expires_at, torrent.info_hash)
    token = signer_for(services).issue(claims)
    target = StreamTarget(torrent.info_hash, file, entry_id, user_id, status)
    grants = grants_of(services)
    cluster = cluster_of(services)
    if grants is not None and (cluster is None or not cluster.enabled):
        # This call has just made every check `authorize` would (live session, ownership, takedown),
        # so the URL's first Range request needs no database (issue 15). In a cluster the first
        # request still takes the full path: it claims the torrent for the node that serves it.
        await _touch_if_stale(session, torrent, now)
        grants.put(token, target, now, epoch)
    return token, expires_at, target


async def authorize(services: Services, engine: Engine, token: str, info_hash: str) -> StreamTarget:
    """Check a stream token: signature (over the URL's info-hash) and expiry always; live session,
    ownership and takedown list in the database, reused for ``stream_grant_ttl_seconds`` per token
    (``fastpath``)."""
    now = services.clock.now()
    claims = signer_for(services).verify(token, now, info_hash)
    grants = grants_of(services)
    cached = grants.get(token, now) if grants is not None else None
    if cached is not None:
        try:
            engine.touch(cached.info_hash)  # raises if it left the engine: the full path re-adds it
        except EngineError:
            pass
        else:
            return cached
    epoch = revocation.current()
    async with services.sessionmaker() as session:
        if not await session_is_active(session, claims.session_id, now):
            raise StreamSessionRevoked("The session that issued this stream link has ended.")
        found = await repository.get_entry_if_unblocked(session, claims.user_id, claims.entry_id)
        if found is None:
            raise StreamForbidden("This stream link no longer matches a torrent in your library.")
        _, torrent, blocked = found
        if torrent.info_hash != claims.info_hash:  # unreachable while the MAC holds; cheap to state
            raise StreamForbidden("This stream link no longer matches a torrent in your library.")
        known = service.engine_status(engine, torrent.info_hash)
        checked = {torrent.info_hash, *(known.info_hashes if known else ())}
        if blocked or (len(checked) > 1 and await repository.is_blocked(session, sorted(checked))):
            raise TorrentBlocked("This torrent has been taken down.")
        await _touch_if_stale(session, torrent, now)
        status = await service.ensure_in_engine(session, engine, torrent)
    cluster = cluster_of(services)
    if cluster is not None:
        await cluster.claim(torrent.info_hash)  # this node serves it: the others release it
    status = await ready_status(engine, status, services.settings.engine_metadata_timeout)
    if set(status.info_hashes) - checked:  # metadata arrived since: check every hash again
        async with services.sessionmaker() as session:
            await service.refuse_if_blocked(session, engine, torrent.info_hash, status.info_hashes)
    engine.touch(torrent.info_hash)
    target = StreamTarget(
        torrent.info_hash, find_file(status, claims.file_index), claims.entry_id, claims.user_id, status
    )
    if grants is not None:
        grants.put(token, target, now, epoch)
    return target


async def read_small_file(engine: Engine, info_hash: str, file: FileInfo, owner: str | None = None) -> bytes:
    """A whole (small, already bounded by the caller) file of a torrent, through a reader."""
    data = bytearray()
    try:
        async with await engine.open_reader(info_hash, file.index, owner=owner) as reader:
            while len(data) < file.size:
                data += await reader.read(len(data), file.size - len(data))
    except EngineError as exc:
        raise http_error(exc) from exc
    return bytes(data)


def etag_for(info_hash: str, file: FileInfo) -> str:
    """Strong: the bytes of (info-hash, file index) never change, and the size pins the file."""
    return f'"{info_hash}-{file.index}-{file.size}"'
