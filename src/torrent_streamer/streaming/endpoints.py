"""Streaming routes: stream URLs, the bytes (GET/HEAD with Range), subtitles as WebVTT.

Thin: token and ownership checks live in ``service``, Range rules in ``ranges``, the body in ``response``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from torrent_streamer.auth.dependencies import public_route
from torrent_streamer.core.deps import ClockDep, ServicesDep, SessionDep
from torrent_streamer.core.errors import RangeNotSatisfiable, problem_responses
from torrent_streamer.engine import FileReader
from torrent_streamer.streaming import service
from torrent_streamer.streaming.content import served_headers
from torrent_streamer.streaming.limits import count_stream_mint, count_stream_open
from torrent_streamer.streaming.ranges import RangeNotSatisfiableError, if_range_allows, parse_range
from torrent_streamer.streaming.response import StreamResponse
from torrent_streamer.streaming.subtitles import MAX_SUBTITLE_BYTES, SubtitleError, is_subtitle, to_webvtt
from torrent_streamer.streaming.tokens import MAX_TOKEN_LENGTH
from torrent_streamer.streaming.urls import INFO_HASH_PATTERN, stream_url
from torrent_streamer.torrents import service as torrents_service
from torrent_streamer.torrents.dependencies import TorrentUser
from torrent_streamer.torrents.errors import SubtitleUnavailable
from torrent_streamer.torrents.limits import LeasedReader, stream_caps
from torrent_streamer.torrents.runtime import EngineDep
from torrent_streamer.torrents.schemas import StreamUrlPublic

router = APIRouter(tags=["streaming"])

FileIndex = Annotated[int, Path(ge=0, le=1_000_000)]
Token = Annotated[str, Path(min_length=10, max_length=MAX_TOKEN_LENGTH)]
InfoHash = Annotated[str, Path(pattern=INFO_HASH_PATTERN, description="The torrent's info-hash (v1 when it has one)")]


@router.post(
    "/torrents/{torrent_id}/files/{index}/stream",
    dependencies=[Depends(count_stream_mint)],
    responses=problem_responses(401, 403, 404, 422, 429, 451, 503),
)
async def create_stream_url(
    torrent_id: uuid.UUID,
    index: FileIndex,
    principal: TorrentUser,
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    engine: EngineDep,
    clock: ClockDep,
) -> StreamUrlPublic:
    """A signed, short-lived URL for one file, bound to the caller, their session and the file."""
    token, expires_at, target = await service.issue_target(
        session,
        services,
        engine,
        user_id=principal.user_id,
        session_id=principal.session_id,
        entry_id=torrent_id,
        file_index=index,
        now=clock.now(),
    )
    return StreamUrlPublic(url=stream_url(request, target.info_hash, token), expires_at=expires_at)


STREAM_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "The whole file", "content": {"application/octet-stream": {}}},
    206: {"description": "One byte range", "content": {"application/octet-stream": {}}},
    **problem_responses(401, 403, 404, 416, 422, 429, 451, 503),
}


@router.get(
    "/stream/{info_hash}/{token}", dependencies=[public_route()], response_class=Response, responses=STREAM_RESPONSES
)
async def stream_file(
    info_hash: InfoHash, token: Token, request: Request, services: ServicesDep, engine: EngineDep
) -> Response:
    """The bytes of one file (authenticated by the token in the path): Range, If-Range, ETag."""
    return await _stream(info_hash, token, request, services, engine)


@router.head(
    "/stream/{info_hash}/{token}", dependencies=[public_route()], response_class=Response, responses=STREAM_RESPONSES
)
async def stream_file_head(
    info_hash: InfoHash, token: Token, request: Request, services: ServicesDep, engine: EngineDep
) -> Response:
    """The headers ``stream_file`` would send, without opening a reader."""
    return await _stream(info_hash, token, request, services, engine)


async def _stream(info_hash: str, token: str, request: Request, services: ServicesDep, engine: EngineDep) -> Response:
    target = await service.authorize(services, engine, token, info_hash)
    file = target.file
    etag = service.etag_for(target.info_hash, file)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        **served_headers(file.name, file.mime),
        "Cache-Control": "private, no-store",
    }
    range_header = request.headers.get("range")
    try:
        byte_range = (
            parse_range(range_header, file.size) if if_range_allows(request.headers.get("if-range"), etag) else None
        )
    except RangeNotSatisfiableError as exc:
        raise RangeNotSatisfiable(headers={"Content-Range": exc.content_range, "Accept-Ranges": "bytes"}) from None
    if byte_range is None:
        start, length, status_code = 0, file.size, 200
    else:
        start, length, status_code = byte_range.start, byte_range.length, 206
        headers["Content-Range"] = byte_range.content_range
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status_code, headers=headers)
    await count_stream_open(request)  # per client prefix (TS_STREAM_OPEN_LIMIT): 429 + Retry-After
    lease = stream_caps(services).acquire(target.user_id)  # 429 + Retry-After before anything is sent

    async def open_reader() -> FileReader:
        try:
            reader = await engine.open_reader(target.info_hash, file.index, owner=str(target.user_id))
        except BaseException:
            lease.release()
            raise
        return LeasedReader(reader, lease)

    return StreamResponse(
        open_reader=open_reader,
        start=start,
        length=length,
        status_code=status_code,
        headers=headers,
        metrics=services.metrics,
    )


@router.get(
    "/torrents/{torrent_id}/files/{index}/subtitles.vtt",
    response_class=Response,
    responses={200: {"content": {"text/vtt": {}}}, **problem_responses(401, 403, 404, 413, 422, 503)},
)
async def torrent_subtitles(
    torrent_id: uuid.UUID, index: FileIndex, principal: TorrentUser, session: SessionDep, engine: EngineDep
) -> Response:
    """An SRT or VTT file of the torrent as WebVTT (encoding detected, converted, validated)."""
    _, torrent = await torrents_service.get_owned(session, principal.user_id, torrent_id)
    status = await torrents_service.ensure_in_engine(session, engine, torrent)
    file = service.find_file(status, index)
    if not is_subtitle(file.name):
        raise SubtitleUnavailable("This file is not an SRT or VTT subtitle.")
    if file.size > MAX_SUBTITLE_BYTES:
        raise SubtitleUnavailable("This subtitle file is too large.", slug="subtitle-too-large")
    data = await service.read_small_file(engine, torrent.info_hash, file, owner=str(principal.user_id))
    try:
        text = to_webvtt(file.name, data)
    except SubtitleError as exc:
        raise SubtitleUnavailable(str(exc)) from None
    return Response(text, media_type="text/vtt; charset=utf-8", headers={"Cache-Control": "private, no-store"})
