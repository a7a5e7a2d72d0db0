"""Admin API: user listing with keyset pagination, role change (re-auth), disable, session revocation,
and the audit listing (SR-2.10, SR-2.9)."""

from __future__ import annotations

import httpx

from tests.auth_helpers import AuthedUser, next_totp_code, register_and_login
from torrent_streamer.core.clock import FrozenClock


def reauth(client: httpx.AsyncClient, admin: AuthedUser) -> dict[str, str]:
    assert admin.totp_secret
    return {"current_password": admin.password, "code": next_totp_code(client, admin.totp_secret)}


async def test_list_search_and_paginate_users(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    admin = await register_and_login(client, role="admin")
    users = []
    for _ in range(5):
        clock.advance(seconds=1)
        users.append(await register_and_login(client))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/v1/admin/users", params=params, headers=admin.headers)
        assert page.status_code == 200
        seen += [item["email"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [u.email for u in reversed(users)] + [admin.email]
    item = page.json()["items"][-1]
    assert set(item) == {"id", "email", "display_name", "role", "disabled", "mfa_enabled", "created_at"}
    found = await client.get("/api/v1/admin/users", params={"q": users[2].email[:12]}, headers=admin.headers)
    assert [i["email"] for i in found.json()["items"]] == [users[2].email]
    admins = await client.get("/api/v1/admin/users", params={"role": "admin"}, headers=admin.headers)
    assert [i["email"] for i in admins.json()["items"]] == [admin.email]
    bad = await client.get("/api/v1/admin/users", params={"cursor": "not-a-cursor"}, headers=admin.headers)
    assert bad.status_code == 400


async def test_role_change_needs_reauth_and_takes_effect_at_once(client: httpx.AsyncClient) -> None:
    admin = await register_and_login(client, role="admin")
    target = await register_and_login(client, mfa_enabled=True)
    url = f"/api/v1/admin/users/{target.user_id}"
    refused = await client.patch(url, json={"role": "admin", "current_password": admin.password}, headers=admin.headers)
    assert refused.status_code == 403, refused.text  # no code
    promoted = await client.patch(url, json={"role": "admin", **reauth(client, admin)}, headers=admin.headers)
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "admin"
    # the target's existing token now carries the admin role (MFA is enrolled)
    assert (await client.get("/api/v1/admin/users", headers=target.headers)).status_code == 200
    demoted = await client.patch(url, json={"role": "user", **reauth(client, admin)}, headers=admin.headers)
    assert demoted.status_code == 200
    assert (await client.get("/api/v1/admin/users", headers=target.headers)).status_code == 403
    self_demote = await client.patch(
        f"/api/v1/admin/users/{admin.user_id}", json={"role": "user", **reauth(client, admin)}, headers=admin.headers
    )
    assert self_demote.status_code == 409


async def test_disable_revokes_sessions_and_blocks_sign_in(client: httpx.AsyncClient) -> None:
    admin = await register_and_login(client, role="admin")
    target = await register_and_login(client)
    url = f"/api/v1/admin/users/{target.user_id}"
    disabled = await client.patch(url, json={"disabled": True, **reauth(client, admin)}, headers=admin.headers)
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert (await client.get("/api/v1/me", headers=target.headers)).status_code == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": target.refresh_token})).status_code == 401
    login = await client.post("/api/v1/auth/login", json={"email": target.email, "password": target.password})
    assert login.status_code == 401
    enabled = await client.patch(url, json={"disabled": False, **reauth(client, admin)}, headers=admin.headers)
    assert enabled.json()["disabled"] is False
    assert (await client.get(url, headers=admin.headers)).json()["disabled"] is False
    assert (
        await client.get("/api/v1/admin/users/00000000-0000-4000-8000-000000000000", headers=admin.headers)
    ).status_code == 404


async def test_revoke_a_users_sessions_and_read_the_audit_log(client: httpx.AsyncClient) -> None:
    admin = await register_and_login(client, role="admin")
    target = await register_and_login(client)
    revoked = await client.delete(f"/api/v1/admin/users/{target.user_id}/sessions", headers=admin.headers)
    assert revoked.status_code == 204
    assert (await client.get("/api/v1/me", headers=target.headers)).status_code == 401
    audit = await client.get(
        "/api/v1/admin/audit",
        params={"action": "admin_sessions_revoke", "actor_id": str(admin.user_id)},
        headers=admin.headers,
    )
    assert audit.status_code == 200
    (event,) = audit.json()["items"]
    assert event["target_id"] == str(target.user_id)
    assert event["details"] == {"revoked": 1}
    everything = await client.get("/api/v1/admin/audit", params={"limit": "3"}, headers=admin.headers)
    assert len(everything.json()["items"]) == 3
    assert everything.json()["next_cursor"]
    more = await client.get(
        "/api/v1/admin/audit",
        params={"limit": "100", "cursor": everything.json()["next_cursor"]},
        headers=admin.headers,
    )
    ids = [e["id"] for e in everything.json()["items"]] + [e["id"] for e in more.json()["items"]]
    assert len(ids) == len(set(ids))
    naive = await client.get("/api/v1/admin/audit", params={"since": "2024-01-01T00:00:00"}, headers=admin.headers)
    assert naive.status_code == 422
    user_view = await client.get("/api/v1/admin/audit", headers=target.headers)
    assert user_view.status_code == 401
