"""Catalog over HTTP: permissions per route (user, moderator, admin), every moderation decision
audited, strict validation, signed cursors, rate limits and the magnet hand-off to streaming."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from sqlalchemy import select

from tests.auth_helpers import register_and_login
from tests.integration.catalog_helpers import db_session
from torrent_streamer.catalog.magnet import parse_magnet
from torrent_streamer.core.audit import AuditEvent


def submission(title: str = "Interstellar.2014.1080p.BluRay", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": title,
        "magnet": f"magnet:?xt=urn:btih:{secrets.token_hex(20)}&dn=x",
        "size_bytes": 123456789,
        "category": "movies",
        "tags": ["sci-fi"],
    }
    body.update(overrides)
    return body


async def audit_events(url: str, action: str) -> list[AuditEvent]:
    async with db_session(url) as session:
        return list((await session.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars())


async def test_search_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/torrents/search", params={"q": "x"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_submit_approve_search_report_remove_with_permissions_and_audit(
    client: httpx.AsyncClient, clean_db: str
) -> None:
    user = await register_and_login(client)
    other = await register_and_login(client)
    moderator = await register_and_login(client, role="moderator")

    created = await client.post("/api/v1/catalog", json=submission(), headers=user.headers)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["status"] == "pending"
    search = {"q": "interstellar"}
    found = await client.get("/api/v1/torrents/search", params=search, headers=user.headers)
    assert found.json()["items"] == []  # pending entries are not searchable

    refused = await client.post(f"/api/v1/catalog/{entry['id']}/approve", headers=user.headers)
    assert refused.status_code == 403
    queue = await client.get("/api/v1/catalog/queue", headers=user.headers)
    assert queue.status_code == 403
    queue = await client.get("/api/v1/catalog/queue", headers=moderator.headers)
    assert [item["entry"]["id"] for item in queue.json()] == [entry["id"]]

    approved = await client.post(f"/api/v1/catalog/{entry['id']}/approve", headers=moderator.headers)
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    results = (await client.get("/api/v1/torrents/search", params=search, headers=user.headers)).json()
    assert [item["id"] for item in results["items"]] == [entry["id"]]
    hand_off = results["items"][0]["magnet"]  # what POST /api/v1/torrents {magnet} takes
    assert parse_magnet(hand_off).info_hash_v1 == results["items"][0]["info_hash"]

    report = {"reason": "broken", "comment": "no seeds"}
    assert (
        await client.post(f"/api/v1/catalog/{entry['id']}/report", json=report, headers=other.headers)
    ).status_code == 204
    again = await client.post(f"/api/v1/catalog/{entry['id']}/report", json=report, headers=other.headers)
    assert again.status_code == 409
    queue = (await client.get("/api/v1/catalog/queue", headers=moderator.headers)).json()
    assert queue[0]["open_reports"] == 1

    assert (await client.delete(f"/api/v1/catalog/{entry['id']}", headers=user.headers)).status_code == 403
    assert (await client.delete(f"/api/v1/catalog/{entry['id']}", headers=moderator.headers)).status_code == 204
    results = (await client.get("/api/v1/torrents/search", params=search, headers=user.headers)).json()
    assert results["items"] == []

    for action in ("catalog.approve", "catalog.remove"):
        [event] = await audit_events(clean_db, action)
        assert event.actor_id == moderator.user_id
        assert event.target_id == entry["id"]
    [remove] = await audit_events(clean_db, "catalog.remove")
    assert remove.details["resolved_reports"] == 1


async def test_reject_and_invalid_transitions(client: httpx.AsyncClient, clean_db: str) -> None:
    user = await register_and_login(client)
    moderator = await register_and_login(client, role="moderator")
    entry = (await client.post("/api/v1/catalog", json=submission(), headers=user.headers)).json()
    rejected = await client.post(
        f"/api/v1/catalog/{entry['id']}/reject", json={"reason": "duplicate upload"}, headers=moderator.headers
    )
    assert rejected.json()["status"] == "rejected"
    again = await client.post(f"/api/v1/catalog/{entry['id']}/reject", headers=moderator.headers)
    assert again.status_code == 409
    missing = await client.post(f"/api/v1/catalog/{secrets.token_hex(16)}/approve", headers=moderator.headers)
    assert missing.status_code == 404
    [event] = await audit_events(clean_db, "catalog.reject")
    assert event.actor_id == moderator.user_id
    assert event.details["note"] == "duplicate upload"


async def test_submissions_are_validated_strictly(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    bad = [
        submission(magnet="magnet:?xt=urn:btih:nothex"),
        submission(magnet="http://example.com/x.torrent"),
        submission(title=""),
        submission(title="x" * 301),
        submission(category="porn"),
        submission(size_bytes=-1),
        submission(size_bytes="12"),
        submission(tags=["ok"] * 11),
        {**submission(), "status": "approved"},
    ]
    for body in bad:
        response = await client.post("/api/v1/catalog", json=body, headers=user.headers)
        assert response.status_code == 422, body
    body = submission()
    assert (await client.post("/api/v1/catalog", json=body, headers=user.headers)).status_code == 201
    duplicate = await client.post("/api/v1/catalog", json=body, headers=user.headers)
    assert duplicate.status_code == 409


async def test_search_parameters_and_cursors_are_checked(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    for params in (
        {"q": "x" * 201},
        {"q": ""},
        {"q": "x", "limit": 101},
        {"q": "x", "sort": "random"},
        {"q": "x", "page": 2},
    ):
        response = await client.get("/api/v1/torrents/search", params=params, headers=user.headers)
        assert response.status_code == 422, params
    forged = await client.get(
        "/api/v1/torrents/search",
        params={"q": "x", "cursor": "eyJrIjoxfQ.AAAAAAAAAAAAAAAAAAAAAA"},
        headers=user.headers,
    )
    assert forged.status_code == 400
    assert forged.json()["type"].endswith("invalid-cursor")


async def test_search_is_rate_limited_per_user(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    statuses = [
        (await client.get("/api/v1/torrents/search", params={"q": "x"}, headers=user.headers)).status_code
        for _ in range(61)
    ]
    assert statuses[:60] == [200] * 60
    assert statuses[60] == 429
    other = await register_and_login(client)
    assert (await client.get("/api/v1/torrents/search", params={"q": "x"}, headers=other.headers)).status_code == 200


async def test_indexers_are_admin_only_and_keys_never_come_back(client: httpx.AsyncClient, clean_db: str) -> None:
    user = await register_and_login(client)
    moderator = await register_and_login(client, role="moderator")
    admin = await register_and_login(client, role="admin")
    body = {"name": "jackett", "url": "http://127.0.0.1:9117/api", "api_key": "super-secret-key-123"}
    for who in (user, moderator):
        assert (await client.post("/api/v1/admin/indexers", json=body, headers=who.headers)).status_code == 403
        assert (await client.get("/api/v1/admin/indexers", headers=who.headers)).status_code == 403
    created = await client.post("/api/v1/admin/indexers", json=body, headers=admin.headers)
    assert created.status_code == 201
    assert "super-secret" not in created.text
    assert created.json()["has_api_key"] is True
    listed = await client.get("/api/v1/admin/indexers", headers=admin.headers)
    assert "super-secret" not in listed.text
    assert (await client.post("/api/v1/admin/indexers", json=body, headers=admin.headers)).status_code == 409
    bad_url = {**body, "name": "other", "url": "file:///etc/passwd"}
    assert (await client.post("/api/v1/admin/indexers", json=bad_url, headers=admin.headers)).status_code == 422
    deleted = await client.delete(f"/api/v1/admin/indexers/{created.json()['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert (await client.get("/api/v1/admin/indexers", headers=admin.headers)).json() == []
    for action in ("indexer.add", "indexer.delete"):
        [event] = await audit_events(clean_db, action)
        assert event.actor_id == admin.user_id
        assert "super-secret" not in str(event.details)
