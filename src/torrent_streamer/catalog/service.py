"""Catalog logic: search (catalog + indexers), submissions, reports, moderation, indexer admin.

Services never commit; the route (or the import command) does, once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.catalog import repository, work_repository, work_service
from torrent_streamer.catalog.cursor import CursorError, decode_cursor, encode_cursor
from torrent_streamer.catalog.errors import (
    AlreadyReported,
    DuplicateEntry,
    EntryNotFound,
    IndexerNameTaken,
    IndexerNotFound,
    InvalidCursor,
    InvalidTransition,
)
from torrent_streamer.catalog.magnet import parse_magnet
from torrent_streamer.catalog.models import CatalogEntry, CatalogReport, Category, EntryStatus, Indexer
from torrent_streamer.catalog.parsing import ParsedRelease, parse_release
from torrent_streamer.catalog.query import clean_text, tokens
from torrent_streamer.catalog.schemas import (
    CatalogEntryCreate,
    ExternalResultPublic,
    IndexerCreate,
    IndexerStatusPublic,
    ParsedNamePublic,
    ReportCreate,
    SearchPage,
    SearchParams,
    SearchResultPublic,
)
from torrent_streamer.catalog.torznab import IndexerTarget, TorznabClient
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.crypto import DecryptionError, SecretBox


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where (for the audit log)."""

    user_id: uuid.UUID
    ip: str | None = None
    user_agent: str | None = None


# Which moderation action may move an entry from which status.
TRANSITIONS: dict[str, tuple[set[EntryStatus], EntryStatus]] = {
    "approve": ({EntryStatus.pending, EntryStatus.rejected, EntryStatus.approved}, EntryStatus.approved),
    "reject": ({EntryStatus.pending}, EntryStatus.rejected),
    "remove": ({EntryStatus.pending, EntryStatus.approved, EntryStatus.rejected}, EntryStatus.removed),
}


def query_fingerprint(params: SearchParams) -> str:
    material = [" ".join(tokens(params.q)), params.category, params.min_size, params.max_size, params.sort]
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()[:16]


def _cursor_position(params: SearchParams, key: bytes) -> tuple[tuple[Any, uuid.UUID], str] | None:
    """The keyset position and the mode of the first page, from a cursor issued for this query."""
    if params.cursor is None:
        return None
    try:
        payload = decode_cursor(key, params.cursor)
        if payload.get("f") != query_fingerprint(params) or payload.get("m") not in repository.MODES:
            raise CursorError("cursor belongs to another query")
        last_id = uuid.UUID(str(payload["i"]))
        value = payload["k"]
        mode = str(payload["m"])
        by_seeders = params.sort == "seeders" or (params.sort == "relevance" and mode == "popular")
        if params.sort == "newest":
            value = datetime.fromisoformat(str(value))
        elif not isinstance(value, int if by_seeders else int | float) or isinstance(value, bool):
            raise CursorError("bad cursor value")
    except (CursorError, KeyError, ValueError, TypeError):
        raise InvalidCursor("The cursor is invalid for this query.") from None
    return (value, last_id), mode


def _next_cursor(params: SearchParams, key: bytes, mode: str, entry: CatalogEntry, sort_value: Any) -> str:
    value = sort_value.isoformat() if isinstance(sort_value, datetime) else sort_value
    return encode_cursor(key, {"f": query_fingerprint(params), "i": entry.id.hex, "k": value, "m": mode})


def entry_result(entry: CatalogEntry) -> SearchResultPublic:
    return SearchResultPublic(
        id=entry.id,
        title=entry.title,
        category=entry.category,
        size_bytes=entry.size_bytes,
        seeders=entry.seeders,
        leechers=entry.leechers,
        info_hash=entry.info_hash,
        magnet=entry.magnet,
        created_at=entry.created_at,
    )


async def indexer_targets(session: AsyncSession, box: SecretBox) -> list[IndexerTarget]:
    targets = []
    for indexer in await repository.list_indexers(session, enabled_only=True):
        api_key = None
        if indexer.api_key_encrypted:
            try:
                api_key = box.decrypt(indexer.api_key_encrypted, context=f"indexer:{indexer.id}")
            except DecryptionError:
                continue  # a key that no longer decrypts must not reach the indexer in clear or wrong
        targets.append(IndexerTarget(str(indexer.id), indexer.name, indexer.url, api_key, indexer.timeout_seconds))
    return targets


async def search(
    session: AsyncSession,
    params: SearchParams,
    *,
    cursor_key: bytes,
    torznab: TorznabClient | None,
    box: SecretBox,
    now: datetime | None = None,
) -> SearchPage:
    """Catalog matches and, on the first page, indexer results; with ``now``, the swarm numbers the
    indexers report for entries the catalog holds refresh those entries (the caller commits)."""
    position = _cursor_position(params, cursor_key)
    after, mode = position if position is not None else (None, None)
    flt = repository.SearchFilter(
        text=clean_text(params.q).translate(str.maketrans("._+[]()", "       ")),
        words=tokens(params.q),
        category=params.category,
        min_size=params.min_size,
        max_size=params.max_size,
        sort=params.sort,
        limit=params.limit,
        after=after,
        mode=mode,
    )
    rows, used_mode = await repository.search(session, flt)
    page, more = rows[: params.limit], len(rows) > params.limit
    next_cursor = _next_cursor(params, cursor_key, used_mode, *page[-1]) if more and page else None
    external: list[ExternalResultPublic] = []
    statuses: list[IndexerStatusPublic] = []
    if after is None and torznab is not None and flt.words:
        targets = await indexer_targets(session, box)
        found, outcomes = await torznab.search(targets, " ".join(flt.words)) if targets else ([], [])
        known = await repository.approved_hashes(session, [r.info_hash for r in found])
        if now is not None and known:
            swarms = {r.info_hash: (r.seeders, r.leechers) for r in found if r.info_hash in known}
            await work_repository.refresh_swarms(session, swarms, now)
        for result in found:
            category = Category(result.category)
            if result.info_hash in known or (params.category is not None and category != params.category):
                continue
            if (params.min_size is not None and result.size_bytes < params.min_size) or (
                params.max_size is not None and result.size_bytes > params.max_size
            ):
                continue
            external.append(
                ExternalResultPublic(
                    title=result.title,
                    category=category,
                    size_bytes=result.size_bytes,
                    seeders=result.seeders,
                    leechers=result.leechers,
                    info_hash=result.info_hash,
                    magnet=result.magnet,
                    indexer=result.indexer,
                )
            )
        external = await _with_parsed_names(external[: params.limit])
        statuses = [IndexerStatusPublic(name=o.name, status=o.status, results=o.results) for o in outcomes]
    return SearchPage(
        items=[entry_result(entry) for entry, _ in page], external=external, indexers=statuses, next_cursor=next_cursor
    )


async def submit(session: AsyncSession, data: CatalogEntryCreate, *, actor: Actor, now: datetime) -> CatalogEntry:
    magnet = parse_magnet(data.magnet)
    if await repository.entry_with_hash(session, magnet.info_hash_v1, magnet.info_hash_v2):
        raise DuplicateEntry("An entry with this info-hash already exists.")
    entry = CatalogEntry(
        title=data.title,
        description=data.description,
        info_hash_v1=magnet.info_hash_v1,
        info_hash_v2=magnet.info_hash_v2,
        magnet=data.magnet,
        size_bytes=data.size_bytes,
        category=data.category,
        tags=list(dict.fromkeys(data.tags)),
        uploader_id=actor.user_id,
        status=EntryStatus.pending,
        seeders=0,
        leechers=0,
        created_at=now,
        updated_at=now,
    )
    await work_service.parse_entry(session, entry, now)
    session.add(entry)
    await session.flush()
    _audit(session, now, AuditAction.CATALOG_SUBMIT, actor, entry.id)
    return entry


async def report(
    session: AsyncSession, entry_id: uuid.UUID, data: ReportCreate, *, actor: Actor, now: datetime
) -> CatalogReport:
    entry = await repository.get_entry(session, entry_id)
    if entry is None or entry.status != EntryStatus.approved:
        raise EntryNotFound("No such catalog entry.")
    if await repository.has_reported(session, entry_id, actor.user_id):
        raise AlreadyReported("You already reported this entry.")
    filed = CatalogReport(
        entry_id=entry_id,
        reporter_id=actor.user_id,
        reason=data.reason,
        comment=clean_text(data.comment).strip() or None if data.comment else None,
        created_at=now,
    )
    session.add(filed)
    await session.flush()
    _audit(session, now, AuditAction.CATALOG_REPORT, actor, entry_id, {"reason": data.reason.value})
    return filed


async def moderate(
    session: AsyncSession, entry_id: uuid.UUID, action: str, *, actor: Actor, now: datetime, note: str | None
) -> CatalogEntry:
    allowed_from, target = TRANSITIONS[action]
    entry = await repository.get_entry(session, entry_id, for_update=True)
    if entry is None:
        raise EntryNotFound("No such catalog entry.")
    if entry.status not in allowed_from:
        raise InvalidTransition(f"A {entry.status.value} entry cannot be {target.value}.")
    previous = entry.status
    entry.status = target
    entry.updated_at = now
    resolved = await repository.resolve_reports(session, entry_id, now)
    await work_service.refresh_after_change(session, [entry])
    details = {"from": previous.value, "to": target.value, "resolved_reports": resolved}
    if note:
        details["note"] = clean_text(note)[:500]
    _audit(session, now, AuditAction(f"catalog.{action}"), actor, entry_id, details)
    return entry


async def add_indexer(
    session: AsyncSession, data: IndexerCreate, *, box: SecretBox, actor: Actor, now: datetime
) -> Indexer:
    if await repository.indexer_named(session, data.name) is not None:
        raise IndexerNameTaken("An indexer with this name already exists.")
    indexer_id = uuid.uuid4()
    secret = data.api_key.get_secret_value() if data.api_key else None
    indexer = Indexer(
        id=indexer_id,
        name=data.name,
        url=data.url,
        api_key_encrypted=box.encrypt(secret, context=f"indexer:{indexer_id}") if secret else None,
        enabled=data.enabled,
        timeout_seconds=data.timeout_seconds,
        created_at=now,
        updated_at=now,
    )
    session.add(indexer)
    await session.flush()
    _audit(session, now, AuditAction.INDEXER_ADD, actor, indexer_id, {"name": data.name}, target_type="indexer")
    return indexer


async def delete_indexer(session: AsyncSession, indexer_id: uuid.UUID, *, actor: Actor, now: datetime) -> None:
    indexer = await repository.get_indexer(session, indexer_id)
    if indexer is None:
        raise IndexerNotFound("No such indexer.")
    await session.delete(indexer)
    _audit(session, now, AuditAction.INDEXER_DELETE, actor, indexer_id, {"name": indexer.name}, target_type="indexer")


def _audit(
    session: AsyncSession,
    now: datetime,
    action: AuditAction,
    actor: Actor,
    target: uuid.UUID,
    details: dict[str, Any] | None = None,
    *,
    target_type: str = "catalog_entry",
) -> None:
    record_event(
        session,
        now=now,
        action=action,
        actor_id=actor.user_id,
        target_type=target_type,
        target_id=str(target),
        ip=actor.ip,
        user_agent=actor.user_agent,
        details=details,
    )


EXTERNAL_PARSE_BUDGET_SECONDS = 0.5  # guessit takes ~10-25 ms a new name; a search must not wait seconds


def _parse_within(names: list[str], budget: float) -> dict[str, ParsedRelease]:
    """Parse names in order until `budget` seconds are spent (cached names cost nothing)."""
    deadline = time.monotonic() + budget
    parsed: dict[str, ParsedRelease] = {}
    for name in names:
        if time.monotonic() > deadline:
            break
        parsed[name] = parse_release(name)
    return parsed


async def _with_parsed_names(results: list[ExternalResultPublic]) -> list[ExternalResultPublic]:
    """Indexer results carry their parsed name too, off the event loop and within a time budget."""
    if not results:
        return results
    parsed = await asyncio.to_thread(_parse_within, [r.title for r in results], EXTERNAL_PARSE_BUDGET_SECONDS)
    out = []
    for r in results:
        p = parsed.get(r.title)
        if p is None:
            out.append(r)
            continue
        name = ParsedNamePublic(
            title=p.title,
            kind=p.kind,
            year=p.year,
            season=p.season,
            episode=p.episode,
            resolution=p.resolution,
            source=p.source,
            video_codec=p.video_codec,
            hdr=p.hdr,
            audio_codec=p.audio_codec,
            audio_channels=p.audio_channels,
            languages=list(p.languages),
            group=p.group,
        )
        out.append(r.model_copy(update={"parsed": name}))
    return out
