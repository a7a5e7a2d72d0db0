"""Panel torrents page: what the engine holds (readers, rates), evict, and the takedown list.

Blocking goes through ``torrents.service.block`` like the API route; the engine drops the data after commit.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.responses import RedirectResponse, Response

from torrent_streamer.auth.dependencies import MetaDep
from torrent_streamer.auth.permissions import Permission
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.deps import ClockDep, SessionDep
from torrent_streamer.core.errors import AppError
from torrent_streamer.torrents import repository as torrents_repository
from torrent_streamer.torrents import service as torrents_service
from torrent_streamer.torrents.runtime import EngineDep
from torrent_streamer.web.dependencies import WebDep
from torrent_streamer.web.panel.dependencies import PanelPrincipal, panel_require
from torrent_streamer.web.panel.endpoints import base_context
from torrent_streamer.web.panel.figures import active_count

router = APIRouter(prefix="/admin/torrents", include_in_schema=False)
TorrentsAdmin = Annotated[PanelPrincipal, panel_require(Permission.admin_torrents)]
FreshTorrentsAdmin = Annotated[  # blocking is destructive: password + TOTP within the window (SR-2.9)
    PanelPrincipal, panel_require(Permission.admin_torrents, fresh=True, back="/admin/torrents")
]
_INFO_HASH = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
NOTICES = {"blocked": "The info-hash is blocked and its data dropped.", "unblocked": "The block is lifted.",
           "evicted": "The torrent was stopped and its data evicted."}  # fmt: skip
ERRORS = {"invalid-info-hash": "An info-hash is 40 or 64 hexadecimal characters.",
          "already-blocked": "This info-hash is already blocked.", "not-found": "Not found."}  # fmt: skip


def _back(key: str, *, error: bool = False) -> Response:
    return RedirectResponse(f"/admin/torrents?{'error' if error else 'notice'}={key}", status_code=303)


@router.get("")
async def panel_torrents(
    web: WebDep, session: SessionDep, engine: EngineDep, principal: TorrentsAdmin,
    notice: Annotated[str | None, Query(max_length=64)] = None,
    error: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:  # fmt: skip
    context = base_context(principal, "Torrents", "torrents")
    torrents = sorted(engine.list_status(), key=lambda s: s.name.lower())
    context.update(  # both counts come from the listed rows, so they always agree with the table
        torrents=torrents, active=active_count(torrents), stats=engine.stats(),
        blocked=await torrents_repository.list_blocked(session, 200), notice=NOTICES.get(notice or ""),
        error=ERRORS.get(error or "", "The action failed.") if error else None,
    )  # fmt: skip
    return web.render("panel/torrents.html", context)


@router.post("/block")
async def panel_block_info_hash(
    session: SessionDep, engine: EngineDep, clock: ClockDep, meta: MetaDep, principal: FreshTorrentsAdmin,
    info_hash: Annotated[str, Form(max_length=64)], reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:  # fmt: skip
    info_hash = info_hash.strip().lower()
    if not _INFO_HASH.match(info_hash):
        return _back("invalid-info-hash", error=True)
    actor = principal.identity.user.id
    try:
        await torrents_service.block(session, info_hash=info_hash, reason=reason, actor_id=actor, now=clock.now())
    except AppError as exc:
        await session.rollback()
        return _back(exc.slug_override or exc.slug, error=True)
    record_event(
        session, now=clock.now(), action=AuditAction.TORRENT_BLOCK, actor_id=actor, target_type="info_hash",
        target_id=info_hash, ip=meta.ip, user_agent=meta.user_agent, details={"reason": reason, "via": "panel"},
    )  # fmt: skip
    await session.commit()
    await torrents_service.drop_from_engine(engine, info_hash)
    return _back("blocked")


@router.post("/unblock/{blocked_id}")
async def panel_unblock_info_hash(
    blocked_id: uuid.UUID, session: SessionDep, clock: ClockDep, meta: MetaDep, principal: TorrentsAdmin
) -> Response:
    try:
        item = await torrents_service.unblock(session, blocked_id)
    except AppError as exc:
        await session.rollback()
        return _back(exc.slug_override or exc.slug, error=True)
    record_event(
        session, now=clock.now(), action=AuditAction.TORRENT_UNBLOCK, actor_id=principal.identity.user.id,
        target_type="info_hash", target_id=item.info_hash, ip=meta.ip, user_agent=meta.user_agent,
        details={"via": "panel"},
    )  # fmt: skip
    await session.commit()
    return _back("unblocked")


@router.post("/evict")
async def panel_evict_torrent(
    session: SessionDep, engine: EngineDep, clock: ClockDep, meta: MetaDep, principal: TorrentsAdmin,
    info_hash: Annotated[str, Form(max_length=64)],
) -> Response:  # fmt: skip
    """Stop a torrent and delete its data; a user who streams it again brings it back (block to prevent that)."""
    info_hash = info_hash.strip().lower()
    if not _INFO_HASH.match(info_hash):
        return _back("invalid-info-hash", error=True)
    record_event(
        session, now=clock.now(), action=AuditAction.TORRENT_EVICT, actor_id=principal.identity.user.id,
        target_type="info_hash", target_id=info_hash, ip=meta.ip, user_agent=meta.user_agent,
        details={"via": "panel"},
    )  # fmt: skip
    await session.commit()
    await torrents_service.drop_from_engine(engine, info_hash)
    return _back("evicted")
