"""Panel catalog pages: the moderation queue (approve, reject, remove) and Torznab indexers (add, test, remove).

Thin routes over ``catalog.service``; every decision is audited there, as for the API.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query
from pydantic import SecretStr, ValidationError
from starlette.responses import RedirectResponse, Response

from torrent_streamer.auth.dependencies import MetaDep
from torrent_streamer.auth.permissions import Permission
from torrent_streamer.catalog import repository as catalog_repository
from torrent_streamer.catalog import service as catalog_service
from torrent_streamer.catalog.dependencies import TorznabDep
from torrent_streamer.catalog.schemas import IndexerCreate
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.deps import ClockDep, ServicesDep, SessionDep, enforce_limit
from torrent_streamer.core.errors import AppError, RateLimited
from torrent_streamer.web.dependencies import WebDep
from torrent_streamer.web.panel.dependencies import PanelPrincipal, panel_require
from torrent_streamer.web.panel.endpoints import base_context

router = APIRouter(prefix="/admin", include_in_schema=False)
Moderator = Annotated[PanelPrincipal, panel_require(Permission.catalog_moderate)]
IndexersAdmin = Annotated[PanelPrincipal, panel_require(Permission.admin_indexers)]
Notice = Annotated[str | None, Query(max_length=64)]
QUEUE_LIMIT = 100
MODERATION_NOTICES = {"approve": "The entry is approved.", "reject": "The entry is rejected.",
                      "remove": "The entry is removed."}  # fmt: skip
INDEXER_NOTICES = {
    "added": "The indexer was added.", "deleted": "The indexer was removed.",
    "test-ok": "Test search: the indexer answered.",
}  # fmt: skip
# One answer for every failure (timeout, refused address, closed port, bad XML…): the test action must
# not tell open ports from closed ones or public hosts from private ones (no port scanner). Logs say more.
TEST_FAILED = "Test search: the indexer gave no usable answer. Check the URL and the API key."
INDEXER_ERRORS = {
    "indexer-name-taken": "An indexer with this name already exists.",
    "invalid": "Check the name (letters, digits, . _ -), the URL (http/https) and the timeout.",
    "test-failed": TEST_FAILED,
    "test-rate-limited": "Too many test searches; wait a minute.",
}


def _redirect(path: str, key: str, *, error: bool = False) -> Response:
    return RedirectResponse(f"{path}?{'error' if error else 'notice'}={key}", status_code=303)


def _actor(principal: PanelPrincipal, meta: MetaDep) -> catalog_service.Actor:
    return catalog_service.Actor(user_id=principal.identity.user.id, ip=meta.ip, user_agent=meta.user_agent)


@router.get("/moderation")
async def panel_moderation(
    web: WebDep, session: SessionDep, principal: Moderator, notice: Notice = None, error: Notice = None
) -> Response:
    context = base_context(principal, "Moderation", "moderation")
    context.update(
        queue=await catalog_repository.moderation_queue(session, QUEUE_LIMIT),
        notice=MODERATION_NOTICES.get(notice or ""),
        error=error and "That decision is not possible for this entry (it may have changed meanwhile).",
    )  # fmt: skip
    return web.render("panel/moderation.html", context)


@router.post("/moderation/{entry_id}/{action}")
async def panel_moderate(
    entry_id: uuid.UUID, action: Literal["approve", "reject", "remove"], session: SessionDep, clock: ClockDep,
    meta: MetaDep, principal: Moderator, note: Annotated[str, Form(max_length=500)] = "",
) -> Response:  # fmt: skip
    try:
        await catalog_service.moderate(
            session, entry_id, action, actor=_actor(principal, meta), now=clock.now(), note=note.strip() or None
        )
    except AppError as exc:
        await session.rollback()
        return _redirect("/admin/moderation", exc.slug_override or exc.slug, error=True)
    await session.commit()
    return _redirect("/admin/moderation", action)


@router.get("/indexers")
async def panel_indexers(
    web: WebDep, session: SessionDep, principal: IndexersAdmin, notice: Notice = None, error: Notice = None
) -> Response:
    context = base_context(principal, "Indexers", "indexers")
    context.update(
        indexers=await catalog_repository.list_indexers(session), notice=INDEXER_NOTICES.get(notice or ""),
        error=INDEXER_ERRORS.get(error or "", "The action failed.") if error else None,
    )  # fmt: skip
    return web.render("panel/indexers.html", context)


@router.post("/indexers")
async def panel_add_indexer(
    services: ServicesDep, session: SessionDep, clock: ClockDep, meta: MetaDep, principal: IndexersAdmin,
    name: Annotated[str, Form(max_length=64)], url: Annotated[str, Form(max_length=2048)],
    api_key: Annotated[str, Form(max_length=256)] = "",
    timeout_seconds: Annotated[str, Form(alias="timeout", max_length=8)] = "5",
) -> Response:  # fmt: skip
    try:
        data = IndexerCreate(
            name=name.strip(), url=url.strip(), api_key=SecretStr(api_key) if api_key else None,
            timeout_seconds=float(timeout_seconds),
        )  # fmt: skip
    except (ValidationError, ValueError):
        return _redirect("/admin/indexers", "invalid", error=True)
    try:
        await catalog_service.add_indexer(
            session, data, box=services.secret_box, actor=_actor(principal, meta), now=clock.now()
        )
    except AppError as exc:
        await session.rollback()
        return _redirect("/admin/indexers", exc.slug_override or exc.slug, error=True)
    await session.commit()
    return _redirect("/admin/indexers", "added")


@router.post("/indexers/{indexer_id}/test")
async def panel_test_indexer(
    indexer_id: uuid.UUID, services: ServicesDep, session: SessionDep, clock: ClockDep, meta: MetaDep,
    torznab: TorznabDep, principal: IndexersAdmin,
) -> Response:  # fmt: skip
    """One live search against this indexer, rate-limited; the answer is "answered" or one generic failure."""
    try:
        await enforce_limit(services, "indexer_test", services.settings.indexer_test_limit,
                            f"user:{principal.identity.user.id}")  # fmt: skip
    except RateLimited:
        return _redirect("/admin/indexers", "test-rate-limited", error=True)
    targets = [
        t for t in await catalog_service.indexer_targets(session, services.secret_box) if t.id == str(indexer_id)
    ]
    if not targets or torznab is None:
        return _redirect("/admin/indexers", "not-found", error=True)
    outcome = await torznab.test(targets[0])
    record_event(
        session, now=clock.now(), action=AuditAction.INDEXER_TEST, actor_id=principal.identity.user.id,
        target_type="indexer", target_id=str(indexer_id), outcome="success" if outcome else "failure",
        ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip
    await session.commit()
    return (
        _redirect("/admin/indexers", "test-ok") if outcome else _redirect("/admin/indexers", "test-failed", error=True)
    )


@router.post("/indexers/{indexer_id}/delete")
async def panel_delete_indexer(
    indexer_id: uuid.UUID, session: SessionDep, clock: ClockDep, meta: MetaDep, principal: IndexersAdmin
) -> Response:
    try:
        await catalog_service.delete_indexer(session, indexer_id, actor=_actor(principal, meta), now=clock.now())
    except AppError as exc:
        await session.rollback()
        return _redirect("/admin/indexers", exc.slug_override or exc.slug, error=True)
    await session.commit()
    return _redirect("/admin/indexers", "deleted")
