"""Own account: profile update, e-mail change with re-authentication, export and deletion (SR-4.5, SR-5.5)."""

from __future__ import annotations

import secrets

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.auth_helpers import login, new_email, register_and_login, services_of
from tests.integration import torrents_support as ts
from torrent_streamer.auth.models import AuthSession, RefreshToken
from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.users.models import User


async def test_display_name_changes_without_reauth_but_email_needs_it(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    renamed = await client.patch("/api/v1/me", json={"display_name": "  Ada  "}, headers=user.headers)
    assert renamed.status_code == 200
    assert renamed.json()["display_name"] == "Ada"
    email = new_email()
    no_reauth = await client.patch("/api/v1/me", json={"email": email}, headers=user.headers)
    assert no_reauth.status_code == 400
    wrong = await client.patch(
        "/api/v1/me", json={"email": email, "current_password": "Wrong-pass-123!"}, headers=user.headers
    )
    assert wrong.status_code == 403
    changed = await client.patch(
        "/api/v1/me", json={"email": email.upper(), "current_password": user.password}, headers=user.headers
    )
    assert changed.status_code == 200
    assert changed.json()["email"] == email


async def test_changing_to_a_taken_address_answers_like_any_change(client: httpx.AsyncClient) -> None:
    """No 409, no distinct problem: a taken address is simply not applied (and audited)."""
    user = await register_and_login(client)
    other = await register_and_login(client)
    taken = await client.patch(
        "/api/v1/me", json={"email": other.email, "current_password": user.password}, headers=user.headers
    )
    free_address = new_email()
    free = await client.patch(
        "/api/v1/me", json={"email": free_address, "current_password": user.password}, headers=user.headers
    )
    assert taken.status_code == free.status_code == 200
    assert set(taken.json()) == set(free.json())
    assert taken.headers["content-type"] == free.headers["content-type"]
    assert taken.json()["email"] == user.email  # unchanged, and nothing says why
    assert free.json()["email"] == free_address
    async with services_of(client).sessionmaker() as session:
        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.user_id)))
        other_row = await session.get(User, other.user_id)
    assert "email_change_refused" in actions
    assert other_row is not None
    assert other_row.email == other.email


async def test_unknown_fields_and_control_characters_are_refused(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    assert (await client.patch("/api/v1/me", json={"role": "admin"}, headers=user.headers)).status_code == 422
    assert (await client.patch("/api/v1/me", json={"display_name": "a\x00b"}, headers=user.headers)).status_code == 422


async def test_export_contains_the_personal_data_and_no_secrets(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client, mfa_enabled=True)
    response = await client.get("/api/v1/me/export", headers=user.headers)
    assert response.status_code == 200
    data = response.json()
    assert data["profile"]["email"] == user.email
    assert len(data["sessions"]) == 2  # password sign-in, then the MFA sign-in of the helper
    actions = {event["action"] for event in data["security_events"]}
    assert {"register", "login", "mfa_enabled"} <= actions
    assert data["mfa"] == {
        "enabled": True, "enrolment_pending": False, "recovery_codes_remaining": 10, "recovery_codes_used": 0,
    }  # fmt: skip
    assert data["library"] == data["watch_history"] == data["catalog_submissions"] == data["catalog_reports"] == []
    assert data["other"] == {}
    text = response.text
    assert user.totp_secret
    for secret in (user.password, user.totp_secret, user.refresh_token, "argon2", "v1."):
        assert secret not in text


async def test_delete_needs_reauth_then_removes_the_account(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    refused = await client.request(
        "DELETE", "/api/v1/me", json={"current_password": "Wrong-pass-123!"}, headers=user.headers
    )
    assert refused.status_code == 403
    deleted = await client.request(
        "DELETE", "/api/v1/me", json={"current_password": user.password}, headers=user.headers
    )
    assert deleted.status_code == 204
    assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})).status_code == 401
    failed = await client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    assert failed.status_code == 401
    async with services_of(client).sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(User).where(User.id == user.user_id)) == 0
        assert await session.scalar(select(func.count()).select_from(AuthSession)) == 0
        assert await session.scalar(select(func.count()).select_from(RefreshToken)) == 0
        trail = (await session.scalars(select(AuditEvent).where(AuditEvent.actor_id == user.user_id))).all()
    assert "account_deleted" in {event.action for event in trail}
    assert all(event.ip is None and event.user_agent is None for event in trail)  # anonymised


async def test_the_email_can_register_again_after_deletion(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    await client.request("DELETE", "/api/v1/me", json={"current_password": user.password}, headers=user.headers)
    again = await register_and_login(client, email=user.email, password=user.password)
    assert again.user_id != user.user_id
    assert "access_token" in await login(client, user.email, user.password)


async def test_export_holds_library_history_and_catalog_submissions(client: httpx.AsyncClient, app: FastAPI) -> None:
    media = ts.seed_media(ts.engine_of(app))
    user = await register_and_login(client)
    added = await client.post(
        "/api/v1/torrents",
        headers=user.headers,
        files={"torrent": ("x.torrent", media.torrent, "application/x-bittorrent")},
    )
    assert added.status_code == 201, added.text
    torrent_id = added.json()["id"]
    position = await client.put(
        f"/api/v1/me/history/{torrent_id}/0", headers=user.headers, json={"position_seconds": 42.5}
    )
    assert position.status_code == 200, position.text
    magnet = f"magnet:?xt=urn:btih:{secrets.token_hex(20)}&dn=x"
    submitted = await client.post(
        "/api/v1/catalog",
        headers=user.headers,
        json={"title": "Some.Film.2020.1080p", "magnet": magnet, "size_bytes": 1000, "category": "movies"},
    )
    assert submitted.status_code == 201, submitted.text
    export = (await client.get("/api/v1/me/export", headers=user.headers)).json()
    info_hash = added.json()["info_hash"]
    assert [(item["id"], item["info_hash"]) for item in export["library"]] == [(torrent_id, info_hash)]
    assert [
        (h["torrent_id"], h["info_hash"], h["file_index"], h["position_seconds"]) for h in export["watch_history"]
    ] == [(torrent_id, info_hash, 0, 42.5)]
    assert [(c["id"], c["status"]) for c in export["catalog_submissions"]] == [(submitted.json()["id"], "pending")]
    assert export["mfa"]["enabled"] is False
