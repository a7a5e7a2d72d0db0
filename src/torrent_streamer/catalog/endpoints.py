"""Catalog routes: search, submissions, reports, moderation, and the admins' Torznab indexers.

Thin: parse, authorise (``require``), rate-limit, call the service, commit once.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from torrent_streamer.auth.dependencies import Principal, require
from torrent_streamer.auth.permissions import Permission
from torrent_streamer.catalog import repository, service, work_service
from torrent_streamer.catalog.dependencies import (
    REPORT_LIMIT_PER_USER,
    SEARCH_LIMIT_PER_IP,
    SEARCH_LIMIT_PER_USER,
    SUBMIT_LIMIT_PER_USER,
    CursorKeyDep,
    TorznabDep,
)
from torrent_streamer.catalog.models import CatalogEntry, Indexer
from torrent_streamer.catalog.playable import profile_for
from torrent_streamer.catalog.schemas import (
    CatalogEntryCreate,
    CatalogEntryPublic,
    IndexerCreate,
    IndexerPublic,
    ModerationNote,
    QueueItemPublic,
    ReleaseListParams,
    ReleasePage,
    ReportCreate,
    SearchPage,
    SearchParams,
    WorkPage,
    WorkSearchParams,
)
from torrent_streamer.catalog.service import Actor
from torrent_streamer.core.deps import ClockDep, ServicesDep, SessionDep, client_ip, enforce_limit, ip_rate_limit
from torrent_streamer.core.errors import problem_responses

router = APIRouter(tags=["catalog"])
AUTH_ERRORS = (401, 403, 429)


def actor_of(principal: Principal, request: Request) -> Actor:
    return Actor(user_id=principal.user_id, ip=client_ip(request), user_agent=request.headers.get("user-agent"))


async def limit_user(services: ServicesDep, name: str, limit: str, principal: Principal) -> None:
    await enforce_limit(services, name, limit, f"user:{principal.user_id}")


def entry_public(entry: CatalogEntry) -> CatalogEntryPublic:
    return CatalogEntryPublic(
        id=entry.id,
        title=entry.title,
        description=entry.description,
        category=entry.category,
        tags=list(entry.tags),
        size_bytes=entry.size_bytes,
        info_hash_v1=entry.info_hash_v1,
        info_hash_v2=entry.info_hash_v2,
        magnet=entry.magnet,
        status=entry.status,
        seeders=entry.seeders,
        leechers=entry.leechers,
        created_at=entry.created_at,
    )


def indexer_public(indexer: Indexer) -> IndexerPublic:
    return IndexerPublic(
        id=indexer.id,
        name=indexer.name,
        url=indexer.url,
        enabled=indexer.enabled,
        timeout_seconds=indexer.timeout_seconds,
        has_api_key=indexer.api_key_encrypted is not None,
        created_at=indexer.created_at,
    )


@router.get(
    "/torrents/search",
    response_model=SearchPage,
    dependencies=[Depends(ip_rate_limit("catalog_search_ip", SEARCH_LIMIT_PER_IP))],
    responses=problem_responses(400, *AUTH_ERRORS, 422),
)
async def search_torrents(
    params: Annotated[SearchParams, Query()],
    principal: Annotated[Principal, require(Permission.catalog_search)],
    services: ServicesDep,
    session: SessionDep,
    torznab: TorznabDep,
    cursor_key: CursorKeyDep,
    clock: ClockDep,
) -> SearchPage:
    """Search approved catalog entries (and, on the first page, the configured Torznab indexers)."""
    await limit_user(services, "catalog_search_user", SEARCH_LIMIT_PER_USER, principal)
    page = await service.search(
        session, params, cursor_key=cursor_key, torznab=torznab, box=services.secret_box, now=clock.now()
    )
    await session.commit()  # swarm numbers the indexers reported for known entries
    return page


@router.get(
    "/catalog/works",
    response_model=WorkPage,
    dependencies=[Depends(ip_rate_limit("catalog_search_ip", SEARCH_LIMIT_PER_IP))],
    responses=problem_responses(400, *AUTH_ERRORS, 422),
)
async def search_works(
    params: Annotated[WorkSearchParams, Query()],
    principal: Annotated[Principal, require(Permission.catalog_search)],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    cursor_key: CursorKeyDep,
) -> WorkPage:
    """Works (releases grouped by parsed title) by relevance × swarm health, each with its best release."""
    await limit_user(services, "catalog_search_user", SEARCH_LIMIT_PER_USER, principal)
    profile = profile_for(request.headers.get("user-agent"))
    return await work_service.search_works(session, params, cursor_key=cursor_key, profile=profile)


@router.get(
    "/catalog/works/{work_id}/releases",
    response_model=ReleasePage,
    dependencies=[Depends(ip_rate_limit("catalog_search_ip", SEARCH_LIMIT_PER_IP))],
    responses=problem_responses(400, *AUTH_ERRORS, 404, 422),
)
async def list_work_releases(
    work_id: uuid.UUID,
    params: Annotated[ReleaseListParams, Query()],
    principal: Annotated[Principal, require(Permission.catalog_search)],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    cursor_key: CursorKeyDep,
) -> ReleasePage:
    """A work's approved releases, by health (default), size or resolution, with ``playable`` for this client."""
    await limit_user(services, "catalog_search_user", SEARCH_LIMIT_PER_USER, principal)
    profile = profile_for(request.headers.get("user-agent"))
    return await work_service.list_releases(session, work_id, params, cursor_key=cursor_key, profile=profile)


@router.post(
    "/catalog",
    status_code=status.HTTP_201_CREATED,
    response_model=CatalogEntryPublic,
    responses=problem_responses(*AUTH_ERRORS, 409, 422),
)
async def submit_catalog_entry(
    body: CatalogEntryCreate,
    principal: Annotated[Principal, require(Permission.catalog_submit)],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    clock: ClockDep,
) -> CatalogEntryPublic:
    """Submit an entry; it stays pending until a moderator approves it."""
    await limit_user(services, "catalog_submit", SUBMIT_LIMIT_PER_USER, principal)
    entry = await service.submit(session, body, actor=actor_of(principal, request), now=clock.now())
    await session.commit()
    return entry_public(entry)


@router.post(
    "/catalog/{entry_id}/report",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422),
)
async def report_catalog_entry(
    entry_id: uuid.UUID,
    body: ReportCreate,
    principal: Annotated[Principal, require(Permission.catalog_report)],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Report an approved entry to the moderators (once per user and entry)."""
    await limit_user(services, "catalog_report", REPORT_LIMIT_PER_USER, principal)
    await service.report(session, entry_id, body, actor=actor_of(principal, request), now=clock.now())
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _moderate(
    action: str,
    entry_id: uuid.UUID,
    note: ModerationNote | None,
    principal: Principal,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
) -> CatalogEntry:
    entry = await service.moderate(
        session,
        entry_id,
        action,
        actor=actor_of(principal, request),
        now=clock.now(),
        note=note.reason if note else None,
    )
    await session.commit()
    return entry


@router.get(
    "/catalog/queue",
    response_model=list[QueueItemPublic],
    responses=problem_responses(*AUTH_ERRORS, 422),
)
async def list_moderation_queue(
    principal: Annotated[Principal, require(Permission.catalog_moderate)],
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[QueueItemPublic]:
    """Pending entries and reported entries, oldest first (the moderators' work list)."""
    rows = await repository.moderation_queue(session, limit)
    return [QueueItemPublic(entry=entry_public(entry), open_reports=count) for entry, count in rows]


@router.post(
    "/catalog/{entry_id}/approve",
    response_model=CatalogEntryPublic,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422),
)
async def approve_catalog_entry(
    entry_id: uuid.UUID,
    principal: Annotated[Principal, require(Permission.catalog_moderate)],
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    body: Annotated[ModerationNote | None, Body()] = None,
) -> CatalogEntryPublic:
    """Approve an entry (it becomes searchable); its open reports are resolved."""
    return entry_public(await _moderate("approve", entry_id, body, principal, request, session, clock))


@router.post(
    "/catalog/{entry_id}/reject",
    response_model=CatalogEntryPublic,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422),
)
async def reject_catalog_entry(
    entry_id: uuid.UUID,
    principal: Annotated[Principal, require(Permission.catalog_moderate)],
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    body: Annotated[ModerationNote | None, Body()] = None,
) -> CatalogEntryPublic:
    """Reject a pending entry."""
    return entry_public(await _moderate("reject", entry_id, body, principal, request, session, clock))


@router.delete(
    "/catalog/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422),
)
async def remove_catalog_entry(
    entry_id: uuid.UUID,
    principal: Annotated[Principal, require(Permission.catalog_moderate)],
    request: Request,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Take an entry down (kept as ``removed`` for the audit trail; never searchable again)."""
    await _moderate("remove", entry_id, None, principal, request, session, clock)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/admin/indexers", response_model=list[IndexerPublic], responses=problem_responses(*AUTH_ERRORS))
async def list_indexers(
    principal: Annotated[Principal, require(Permission.admin_indexers)], session: SessionDep
) -> list[IndexerPublic]:
    """Every configured Torznab indexer (API keys are never returned)."""
    return [indexer_public(indexer) for indexer in await repository.list_indexers(session)]


@router.post(
    "/admin/indexers",
    status_code=status.HTTP_201_CREATED,
    response_model=IndexerPublic,
    responses=problem_responses(*AUTH_ERRORS, 409, 422),
)
async def add_indexer(
    body: IndexerCreate,
    principal: Annotated[Principal, require(Permission.admin_indexers)],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    clock: ClockDep,
) -> IndexerPublic:
    """Add a Torznab indexer; its API key is encrypted at rest."""
    indexer = await service.add_indexer(
        session, body, box=services.secret_box, actor=actor_of(principal, request), now=clock.now()
    )
    await session.commit()
    return indexer_public(indexer)


@router.delete(
    "/admin/indexers/{indexer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*AUTH_ERRORS, 404, 422),
)
async def delete_indexer(
    indexer_id: uuid.UUID,
    principal: Annotated[Principal, require(Permission.admin_indexers)],
    request: Request,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Remove a Torznab indexer."""
    await service.delete_indexer(session, indexer_id, actor=actor_of(principal, request), now=clock.now())
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
