"""Register → login → /me → refresh → logout: the happy path of the auth contract (SR-2.2)."""

from __future__ import annotations

import httpx

from tests.auth_helpers import register_and_login


async def test_register_login_me_refresh_logout(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    me = await client.get("/api/v1/me", headers=user.headers)
    assert me.status_code == 200
    assert set(me.json()) == {"id", "email", "display_name", "role", "mfa_enabled", "created_at"}
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"] != user.refresh_token
    logout = await client.post("/api/v1/auth/logout", json={"refresh_token": body["refresh_token"]})
    assert logout.status_code == 204
    after = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert after.status_code == 401


async def test_admin_helper_enrolls_mfa(client: httpx.AsyncClient) -> None:
    admin = await register_and_login(client, role="admin")
    me = await client.get("/api/v1/me", headers=admin.headers)
    assert me.json()["role"] == "admin"
    assert me.json()["mfa_enabled"] is True
    assert len(admin.recovery_codes) == 10


async def test_readiness_includes_the_signing_key_ring(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["signing_keys"] == "ok"
