"""Refresh families: rotation, reuse detection, the concurrent-refresh grace, expiry, logout (SR-2.2/2.3/2.8)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests import support
from tests.auth_helpers import login, new_password, register_and_login, services_of
from torrent_streamer.app import create_app
from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.core.config import Settings

REFRESH = "/api/v1/auth/refresh"


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


async def actions(client: httpx.AsyncClient) -> list[str]:
    async with services_of(client).sessionmaker() as session:
        return list((await session.scalars(select(AuditEvent.action).order_by(AuditEvent.created_at))).all())


async def test_each_use_rotates_and_reuse_after_the_grace_revokes_the_family(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    user = await register_and_login(client)
    first = await refresh(client, user.refresh_token)
    assert first.status_code == 200
    clock.advance(seconds=11)
    reused = await refresh(client, user.refresh_token)
    assert reused.status_code == 401
    assert reused.json()["type"].endswith("invalid-refresh-token")
    # the whole family is dead: the successor and its access token too
    assert (await refresh(client, first.json()["refresh_token"])).status_code == 401
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert me.status_code == 401
    assert "refresh_token_reuse" in await actions(client)
    metrics = (await client.get("/metrics")).text
    assert "ts_refresh_token_reuse_total 1.0" in metrics


async def test_a_second_use_within_the_grace_is_409_and_keeps_the_session(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    first = await refresh(client, user.refresh_token)
    again = await refresh(client, user.refresh_token)
    assert again.status_code == 409
    assert again.json()["type"].endswith("refresh-superseded")
    assert "access_token" not in again.json()
    assert (await refresh(client, first.json()["refresh_token"])).status_code == 200
    assert "refresh_token_reuse" not in await actions(client)
    assert (await actions(client)).count("refresh_token_replay") == 1  # every replay is audited


async def replay_events(client: httpx.AsyncClient) -> list[AuditEvent]:
    async with services_of(client).sessionmaker() as session:
        query = select(AuditEvent).where(AuditEvent.action.in_(("refresh_token_reuse", "refresh_token_replay")))
        return list((await session.scalars(query)).all())


@pytest.mark.parametrize(
    ("address", "user_agent"),
    [("127.0.0.1", "another-device/1.0"), ("2001:db8:66:77::5", None)],
    ids=["same-address-other-user-agent", "other-address-same-user-agent"],
)
async def test_a_replay_from_another_client_inside_the_grace_revokes_the_family(
    client: httpx.AsyncClient, app: FastAPI, address: str, user_agent: str | None
) -> None:
    user = await register_and_login(client)
    first = await refresh(client, user.refresh_token)
    assert first.status_code == 200
    headers = {"User-Agent": user_agent} if user_agent else {}
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as other:
        replay = await other.post(REFRESH, json={"refresh_token": user.refresh_token})
    assert replay.status_code == 401  # not 409: the grace belongs to the client that rotated
    assert (await refresh(client, first.json()["refresh_token"])).status_code == 401  # family revoked at once
    events = await replay_events(client)
    assert [(e.action, e.details["reason"]) for e in events] == [("refresh_token_reuse", "other_client")]


async def test_a_thief_who_refreshes_first_does_not_keep_the_session(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = await register_and_login(client)
    transport = httpx.ASGITransport(app=app, client=("2001:db8:bad:1::66", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as thief:
        stolen = await thief.post(REFRESH, json={"refresh_token": owner.refresh_token})
        assert stolen.status_code == 200
        owners_try = await refresh(client, owner.refresh_token)  # the owner's app, a second later
        assert owners_try.status_code == 401
        assert (await thief.post(REFRESH, json={"refresh_token": stolen.json()["refresh_token"]})).status_code == 401
        me = await thief.get("/api/v1/me", headers={"Authorization": f"Bearer {stolen.json()['access_token']}"})
        assert me.status_code == 401
    assert [e.action for e in await replay_events(client)] == ["refresh_token_reuse"]


async def test_concurrent_refreshes_one_wins_the_other_gets_409(client: httpx.AsyncClient) -> None:
    """The phone that wakes up and fires two refreshes at once stays signed in (row-level race)."""
    user = await register_and_login(client)
    responses = await asyncio.gather(*(refresh(client, user.refresh_token) for _ in range(4)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409]
    winner = next(r for r in responses if r.status_code == 200)
    assert (await refresh(client, winner.json()["refresh_token"])).status_code == 200
    assert "refresh_token_reuse" not in await actions(client)
    assert (await actions(client)).count("refresh_token_replay") == 3


async def test_a_grandparent_token_is_reuse_even_inside_the_grace(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    first = await refresh(client, user.refresh_token)
    second = await refresh(client, first.json()["refresh_token"])
    assert second.status_code == 200
    assert (await refresh(client, user.refresh_token)).status_code == 401  # its successor was already used
    assert (await refresh(client, second.json()["refresh_token"])).status_code == 401


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    response = await refresh(client, "x" * 43)
    assert response.status_code == 401


async def test_idle_expiry(settings_factory: Callable[..., Settings], clock: FrozenClock) -> None:
    app = create_app(settings_factory(refresh_idle_ttl_seconds=600), clock=clock)
    async with support.client_for(app) as client:
        user = await register_and_login(client)
        clock.advance(seconds=590)
        kept = await refresh(client, user.refresh_token)
        assert kept.status_code == 200  # use resets the idle window
        clock.advance(seconds=590)
        kept = await refresh(client, kept.json()["refresh_token"])
        assert kept.status_code == 200
        clock.advance(seconds=601)
        assert (await refresh(client, kept.json()["refresh_token"])).status_code == 401


async def test_absolute_expiry(settings_factory: Callable[..., Settings], clock: FrozenClock) -> None:
    settings = settings_factory(refresh_idle_ttl_seconds=3000, refresh_absolute_ttl_seconds=3600)
    async with support.client_for(create_app(settings, clock=clock)) as client:
        user = await register_and_login(client)
        token = user.refresh_token
        for _ in range(2):
            clock.advance(seconds=1700)
            response = await refresh(client, token)
            assert response.status_code == 200
            token = response.json()["refresh_token"]
        clock.advance(seconds=300)  # 3700 s after sign-in, though used 300 s ago
        assert (await refresh(client, token)).status_code == 401


async def test_logout_is_idempotent_and_ends_the_session(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    for _ in range(2):
        assert (await client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})).status_code == 204
    assert (await refresh(client, user.refresh_token)).status_code == 401
    assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 401
    assert (await actions(client)).count("logout") == 1


async def test_sessions_list_revoke_and_logout_all(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    other = await login(client, user.email, user.password)
    listed = await client.get("/api/v1/auth/sessions", headers=user.headers)
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    assert sorted(s["current"] for s in sessions) == [False, True]
    assert set(sessions[0]) == {"id", "device", "created_at", "last_used_at", "current"}
    other_id = next(s["id"] for s in sessions if not s["current"])
    assert (await client.delete(f"/api/v1/auth/sessions/{other_id}", headers=user.headers)).status_code == 204
    assert (await refresh(client, str(other["refresh_token"]))).status_code == 401
    assert (await client.delete(f"/api/v1/auth/sessions/{other_id}", headers=user.headers)).status_code == 404
    assert (await client.post("/api/v1/auth/logout-all", headers=user.headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 401


async def test_cannot_revoke_someone_elses_session(client: httpx.AsyncClient) -> None:
    alice = await register_and_login(client)
    bob = await register_and_login(client)
    bob_sessions = (await client.get("/api/v1/auth/sessions", headers=bob.headers)).json()
    response = await client.delete(f"/api/v1/auth/sessions/{bob_sessions[0]['id']}", headers=alice.headers)
    assert response.status_code == 404
    assert (await client.get("/api/v1/me", headers=bob.headers)).status_code == 200


async def test_password_change_revokes_the_other_sessions(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    other = await login(client, user.email, user.password)
    password = new_password()
    wrong = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "Wrong-passw0rd!", "new_password": password},
        headers=user.headers,
    )
    assert wrong.status_code == 403
    changed = await client.post(
        "/api/v1/auth/password",
        json={"current_password": user.password, "new_password": password},
        headers=user.headers,
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 200
    assert (await refresh(client, str(other["refresh_token"]))).status_code == 401
    assert (
        await client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    ).status_code == 401
    assert (
        await client.post("/api/v1/auth/login", json={"email": user.email, "password": password})
    ).status_code == 200
    assert {"reauth_failed", "password_change"} <= set(await actions(client))


async def test_a_weak_new_password_is_refused(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    response = await client.post(
        "/api/v1/auth/password",
        json={"current_password": user.password, "new_password": "Password123!"},
        headers=user.headers,
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("weak-password")
