"""Torrent routes: the caller's library (add, list, show, remove), live events, history, takedowns.

Thin: rules in ``service``, SQL in ``repository``; each route commits once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile

from torrent_streamer.cluster.node import cluster_of
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.deps import ClockDep, ServicesDep, SessionDep, client_ip, enforce_limit, ip_rate_limit
from torrent_streamer.core.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType, problem_responses
from torrent_streamer.engine import Magnet, TorrentStatus
from torrent_streamer.media.runtime import MEDIA_KEY
from torrent_streamer.torrents import presenters, repository, service
from torrent_streamer.torrents.dependencies import TorrentAdmin, TorrentUser
from torrent_streamer.torrents.limits import event_caps
from torrent_streamer.torrents.runtime import EngineDep
from torrent_streamer.torrents.schemas import (
    AdminTorrentList,
    BlockedCreate,
    BlockedList,
    BlockedPublic,
    HistoryList,
    HistoryPublic,
    HistoryUpdate,
    MagnetCreate,
    TorrentDetail,
    TorrentList,
)

router = APIRouter(tags=["torrents"])
FileIndex = Annotated[int, Path(ge=0, le=1_000_000)]
ADD_LIMIT_PER_USER = "30/hour"
ADD_LIMIT_PER_IP = "60/hour"
LIST_LIMIT = 500
EVENTS_INTERVAL_SECONDS = 1.0
MAGNET_HELP = (
    "That is not a whole magnet link. A magnet link starts with magnet:?xt=urn:btih: "
    "followed by the torrent's 40-character hash; copy all of it and paste it again."
)
EVENTS_MAX = 600  # ten minutes at one a second; EventSource reconnects by itself (``retry``)

ADD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": MagnetCreate.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"torrent": {"type": "string", "format": "binary"}},
                    "required": ["torrent"],
                }
            },
        },
    }
}


async def _read_add_request(request: Request, max_bytes: int) -> MagnetCreate | bytes:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            return MagnetCreate.model_validate_json(await request.body())
        except ValidationError as exc:
            if any(tuple(error["loc"]) == ("magnet",) for error in exc.errors()):
                raise Unprocessable(MAGNET_HELP, slug="invalid-magnet") from None
            raise Unprocessable('Send a JSON object with one field, "magnet".') from None
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=2, max_part_size=max_bytes + 1) as form:
            upload = form.get("torrent")
            if not isinstance(upload, UploadFile):
                raise Unprocessable("Choose a .torrent file to upload.", slug="invalid-torrent")
            data = await upload.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"This .torrent file is too large (the limit is {max_bytes // 1024} KiB).")
        return data
    raise UnsupportedMediaType("Add a torrent with a magnet link or by uploading a .torrent file.")


@router.post(
    "/torrents",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=ADD_BODY,
    dependencies=[Depends(ip_rate_limit("torrent_add_ip", ADD_LIMIT_PER_IP))],
    responses={
        200: {"model": TorrentDetail, "description": "Already in your library"},
        **problem_responses(401, 403, 409, 413, 415, 422, 429, 451, 503),
    },
)
async def add_torrent(
    request: Request,
    principal: TorrentUser,
    session: SessionDep,
    services: ServicesDep,
    engine: EngineDep,
    clock: ClockDep,
) -> TorrentDetail:
    """Add a magnet link (JSON) or a .torrent file (multipart) to your library."""
    await enforce_limit(services, "torrent_add_user", ADD_LIMIT_PER_USER, f"user:{principal.user_id}")
    payload = await _read_add_request(request, services.settings.max_upload_bytes)
    config = service.config_of(services.settings)
    source: Magnet | bytes
    if isinstance(payload, MagnetCreate):
        source = service.parse_magnet(payload.magnet, config)
        hashes = service.magnet_hashes(source)
    else:
        source, hashes = payload, await service.info_hashes_of_torrent_file(payload, config)
    added = await service.add_to_library(
        session, engine, services.settings, user_id=principal.user_id, hashes=hashes, add=source, now=clock.now()
    )
    record_event(
        session,
        now=clock.now(),
        action=AuditAction.TORRENT_ADD,
        actor_id=principal.user_id,
        target_type="torrent",
        target_id=added.torrent.info_hash,
        ip=client_ip(request),
    )
    try:
        await session.commit()
    except BaseException:
        if added.engine_added:
            await service.drop_from_engine(engine, added.torrent.info_hash)
        raise
    status_ = (await _live(services, engine, [added.torrent.info_hash])).get(added.torrent.info_hash)
    body = presenters.torrent_detail(added.entry, added.torrent, status_, _subtitle_url(request, added.entry.id))
    if not added.created:
        return JSONResponse(body.model_dump(mode="json"), status_code=200)  # type: ignore[return-value]
    return body


async def _live(services: ServicesDep, engine: EngineDep, info_hashes: list[str]) -> dict[str, TorrentStatus]:
    return await service.live_statuses(cluster_of(services), engine, info_hashes)


def _subtitle_url(request: Request, entry_id: uuid.UUID) -> Callable[[int], str]:
    def build(index: int) -> str:
        return str(request.app.url_path_for("torrent_subtitles", torrent_id=str(entry_id), index=str(index)))

    return build


def _dead_after(services: ServicesDep) -> float:
    return services.settings.library_metadata_give_up_seconds


@router.get("/torrents", responses=problem_responses(401, 403, 422))
async def list_torrents(
    principal: TorrentUser, session: SessionDep, engine: EngineDep, services: ServicesDep, clock: ClockDep
) -> TorrentList:
    """Your library with live state, progress, peers and rates; a magnet whose metadata never came is ``timed-out``."""
    await service.refresh_library_metadata(session, engine, principal.user_id)
    await session.commit()
    rows = await repository.list_entries(session, principal.user_id, LIST_LIMIT)
    live = await _live(services, engine, [t.info_hash for _, t in rows])
    give_up, now, items = _dead_after(services), clock.now(), []
    for entry, torrent in rows:
        status_ = live.get(torrent.info_hash)
        dead = give_up if service.is_dead(torrent, entry, status_, now, give_up) else None
        items.append(presenters.torrent_public(entry, torrent, status_, dead_after=dead))
    return TorrentList(items=items)


@router.get("/torrents/{torrent_id}", responses=problem_responses(401, 403, 404, 422))
async def get_torrent(
    torrent_id: uuid.UUID,
    request: Request,
    principal: TorrentUser,
    session: SessionDep,
    engine: EngineDep,
    services: ServicesDep,
    clock: ClockDep,
) -> TorrentDetail:
    """One torrent: files (index, name, size, MIME, streamable, subtitle link), readers, start estimate, playback."""
    entry, torrent = await service.get_owned(session, principal.user_id, torrent_id)
    status_ = (await _live(services, engine, [torrent.info_hash])).get(torrent.info_hash)
    await service.refresh_metadata(session, torrent, status_)
    await session.commit()
    give_up = _dead_after(services)
    dead = give_up if service.is_dead(torrent, entry, status_, clock.now(), give_up) else None
    detail = presenters.torrent_detail(entry, torrent, status_, _subtitle_url(request, entry.id), dead_after=dead)
    detail.playback = presenters.playback_stats(services.extras.get(MEDIA_KEY), torrent.info_hash)
    return detail


@router.post("/torrents/{torrent_id}/retry", responses=problem_responses(401, 403, 404, 409, 422, 503))
async def retry_torrent(
    torrent_id: uuid.UUID,
    request: Request,
    principal: TorrentUser,
    session: SessionDep,
    engine: EngineDep,
    services: ServicesDep,
    clock: ClockDep,
) -> TorrentDetail:
    """Ask peers again for a magnet whose metadata timed out; it takes a library slot again."""
    entry, torrent = await service.retry(
        session, engine, services.settings, user_id=principal.user_id, entry_id=torrent_id, now=clock.now()
    )
    await session.commit()
    status_ = service.engine_status(engine, torrent.info_hash)
    return presenters.torrent_detail(entry, torrent, status_, _subtitle_url(request, entry.id))


@router.delete(
    "/torrents/{torrent_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404, 422)
)
async def delete_torrent(
    torrent_id: uuid.UUID,
    request: Request,
    principal: TorrentUser,
    session: SessionDep,
    engine: EngineDep,
    clock: ClockDep,
) -> Response:
    """Remove it from your library; its data is deleted when no user holds it any more."""
    orphan = await service.remove_from_library(session, principal.user_id, torrent_id)
    record_event(
        session,
        now=clock.now(),
        action=AuditAction.TORRENT_REMOVE,
        actor_id=principal.user_id,
        target_type="library_entry",
        target_id=str(torrent_id),
        ip=client_ip(request),
    )
    await session.commit()
    if orphan is not None:
        await service.drop_from_engine(engine, orphan)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/torrents/{torrent_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(401, 403, 404, 422, 429)},
)
async def torrent_events(
    torrent_id: uuid.UUID, principal: TorrentUser, session: SessionDep, engine: EngineDep, services: ServicesDep
) -> StreamingResponse:
    """Server-Sent Events (``event: status`` each second): progress, buffer ahead, peers, rates."""
    _, torrent = await service.get_owned(session, principal.user_id, torrent_id)
    info_hash = torrent.info_hash
    await session.close()  # no connection held for the stream's lifetime
    lease = event_caps(services).acquire(principal.user_id)  # 429 + Retry-After over the per-user cap

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            for _ in range(EVENTS_MAX):
                status_ = (await _live(services, engine, [info_hash])).get(info_hash)
                event = presenters.stream_event(status_, principal.user_id)
                yield f"event: status\ndata: {json.dumps(event.model_dump(mode='json'), separators=(',', ':'))}\n\n"
                await asyncio.sleep(EVENTS_INTERVAL_SECONDS)
        finally:
            lease.release()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    # The background task also runs when the client left before the generator started (idempotent).
    return StreamingResponse(
        events(), media_type="text/event-stream", headers=headers, background=BackgroundTask(lease.release)
    )


@router.put("/me/history/{torrent_id}/{index}", responses=problem_responses(401, 403, 404, 422))
async def put_history(
    torrent_id: uuid.UUID,
    index: FileIndex,
    body: HistoryUpdate,
    principal: TorrentUser,
    session: SessionDep,
    engine: EngineDep,
    clock: ClockDep,
) -> HistoryPublic:
    """Save where you are in a file ("continue watching")."""
    _, torrent = await service.get_owned(session, principal.user_id, torrent_id)
    status_ = service.engine_status(engine, torrent.info_hash)
    files = status_.files if status_ and status_.has_metadata else None
    item, torrent = await service.save_history(
        session,
        user_id=principal.user_id,
        entry_id=torrent_id,
        file_index=index,
        position=body.position_seconds,
        duration=body.duration_seconds,
        files=files,
        now=clock.now(),
    )
    await session.commit()
    return HistoryPublic(
        torrent_id=torrent_id,
        torrent_name=torrent.name,
        file_index=item.file_index,
        file_name=presenters.file_name(status_, item.file_index),
        position_seconds=item.position_seconds,
        duration_seconds=item.duration_seconds,
        updated_at=item.updated_at,
    )


@router.get("/me/history", responses=problem_responses(401, 403, 422))
async def list_history(
    principal: TorrentUser,
    session: SessionDep,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HistoryList:
    """Your resume positions, most recent first."""
    rows = await repository.list_history(session, principal.user_id, limit)
    return HistoryList(
        items=[
            HistoryPublic(
                torrent_id=entry.id,
                torrent_name=torrent.name,
                file_index=item.file_index,
                file_name=presenters.file_name(service.engine_status(engine, torrent.info_hash), item.file_index),
                position_seconds=item.position_seconds,
                duration_seconds=item.duration_seconds,
                updated_at=item.updated_at,
            )
            for item, entry, torrent in rows
        ]
    )


@router.get("/admin/torrents", responses=problem_responses(401, 403, 422))
async def list_all_torrents(principal: TorrentAdmin, session: SessionDep, engine: EngineDep) -> AdminTorrentList:
    """Every torrent on the service with how many users hold it (admins: takedown decisions)."""
    rows = await repository.list_all_torrents(session, LIST_LIMIT)
    return AdminTorrentList(
        items=[presenters.admin_torrent(t, n, service.engine_status(engine, t.info_hash)) for t, n in rows]
    )


@router.get("/admin/blocked", responses=problem_responses(401, 403, 422))
async def list_blocked(principal: TorrentAdmin, session: SessionDep) -> BlockedList:
    """The takedown list."""
    rows = await repository.list_blocked(session, LIST_LIMIT)
    return BlockedList(items=[BlockedPublic.model_validate(r, from_attributes=True, strict=False) for r in rows])


@router.post("/admin/blocked", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 409, 422))
async def block_info_hash(
    body: BlockedCreate,
    request: Request,
    principal: TorrentAdmin,
    session: SessionDep,
    engine: EngineDep,
    clock: ClockDep,
) -> BlockedPublic:
    """Block an info-hash: nobody can add or stream it, and the engine drops its data."""
    item = await service.block(
        session, info_hash=body.info_hash, reason=body.reason, actor_id=principal.user_id, now=clock.now()
    )
    record_event(
        session,
        now=clock.now(),
        action=AuditAction.TORRENT_BLOCK,
        actor_id=principal.user_id,
        target_type="info_hash",
        target_id=body.info_hash,
        ip=client_ip(request),
        details={"reason": body.reason},
    )
    await session.commit()
    await service.drop_from_engine(engine, body.info_hash)
    return BlockedPublic.model_validate(item, from_attributes=True, strict=False)


@router.delete(
    "/admin/blocked/{blocked_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
)
async def unblock_info_hash(
    blocked_id: uuid.UUID, request: Request, principal: TorrentAdmin, session: SessionDep, clock: ClockDep
) -> Response:
    """Lift a takedown."""
    item = await service.unblock(session, blocked_id)
    record_event(
        session,
        now=clock.now(),
        action=AuditAction.TORRENT_UNBLOCK,
        actor_id=principal.user_id,
        target_type="info_hash",
        target_id=item.info_hash,
        ip=client_ip(request),
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
