"""TOTP MFA: enrolment, verify, replay, recovery codes, single-use mfa_token, throttling, MFA-gated
privileges and re-authentication (SR-2.9, SR-2.11, SR-4.2)."""

from __future__ import annotations

from typing import Annotated

import httpx
from sqlalchemy import select

from tests import support
from tests.auth_helpers import (
    login,
    new_password,
    next_totp_code,
    register_and_login,
    services_of,
    totp_code,
)
from torrent_streamer.app import create_app
from torrent_streamer.auth.dependencies import Principal, require
from torrent_streamer.auth.permissions import Permission
from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.core.config import Settings
from torrent_streamer.users.models import User

VERIFY = "/api/v1/auth/mfa/verify"


async def actions(client: httpx.AsyncClient) -> list[str]:
    async with services_of(client).sessionmaker() as session:
        return list((await session.scalars(select(AuditEvent.action))).all())


async def test_enrolment_needs_the_password_and_a_valid_code(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    refused = await client.post(
        "/api/v1/auth/mfa/totp/setup", json={"current_password": "Nope-nope-123!"}, headers=user.headers
    )
    assert refused.status_code == 403
    setup = await client.post(
        "/api/v1/auth/mfa/totp/setup", json={"current_password": user.password}, headers=user.headers
    )
    assert setup.status_code == 200
    secret, uri = setup.json()["secret"], setup.json()["otpauth_uri"]
    assert uri.startswith("otpauth://totp/torrent-streamer:")
    assert f"secret={secret}" in uri
    bad = await client.post("/api/v1/auth/mfa/totp/enable", json={"code": "000000"}, headers=user.headers)
    assert bad.status_code == 401
    enabled = await client.post(
        "/api/v1/auth/mfa/totp/enable", json={"code": next_totp_code(client, secret)}, headers=user.headers
    )
    assert enabled.status_code == 200
    codes = enabled.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    async with services_of(client).sessionmaker() as session:
        row = (await session.scalars(select(User).where(User.id == user.user_id))).one()
    assert row.mfa_enabled
    assert row.totp_secret_enc is not None
    assert secret not in row.totp_secret_enc  # encrypted at rest
    again = await client.post(
        "/api/v1/auth/mfa/totp/setup",
        json={"current_password": user.password, "code": next_totp_code(client, secret)},
        headers=user.headers,
    )
    assert again.status_code == 409
    assert {"mfa_setup", "mfa_enabled", "mfa_enable_failed"} <= set(await actions(client))


async def test_login_with_mfa_and_code_replay(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client, mfa_enabled=True)
    assert user.totp_secret
    challenge = await login(client, user.email, user.password)
    assert challenge["mfa_required"] is True
    assert "access_token" not in challenge
    code = next_totp_code(client, user.totp_secret)
    ok = await client.post(VERIFY, json={"mfa_token": challenge["mfa_token"], "code": code})
    assert ok.status_code == 200
    assert ok.json()["refresh_token"]
    second = await login(client, user.email, user.password)
    replay = await client.post(VERIFY, json={"mfa_token": second["mfa_token"], "code": code})
    assert replay.status_code == 401  # same step, already used
    assert replay.json()["type"].endswith("invalid-mfa-code")


async def test_mfa_token_is_single_use_and_short_lived(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    user = await register_and_login(client, mfa_enabled=True)
    assert user.totp_secret
    challenge = await login(client, user.email, user.password)
    ok = await client.post(
        VERIFY, json={"mfa_token": challenge["mfa_token"], "code": next_totp_code(client, user.totp_secret)}
    )
    assert ok.status_code == 200
    reused = await client.post(
        VERIFY, json={"mfa_token": challenge["mfa_token"], "code": next_totp_code(client, user.totp_secret)}
    )
    assert reused.status_code == 401
    late = await login(client, user.email, user.password)
    clock.advance(seconds=320)
    expired = await client.post(
        VERIFY, json={"mfa_token": late["mfa_token"], "code": totp_code(client, user.totp_secret)}
    )
    assert expired.status_code == 401


async def test_recovery_codes_work_once(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client, mfa_enabled=True)
    code = user.recovery_codes[0]
    first = await login(client, user.email, user.password)
    used = await client.post(VERIFY, json={"mfa_token": first["mfa_token"], "code": code.lower()})
    assert used.status_code == 200
    second = await login(client, user.email, user.password)
    again = await client.post(VERIFY, json={"mfa_token": second["mfa_token"], "code": code})
    assert again.status_code == 401
    assert "mfa_recovery_code_used" in await actions(client)


async def test_code_guessing_is_throttled(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client, mfa_enabled=True)
    challenge = await login(client, user.email, user.password)
    statuses = [
        (await client.post(VERIFY, json={"mfa_token": challenge["mfa_token"], "code": f"{n:06d}"})).status_code
        for n in range(3)
    ]
    assert statuses == [401, 401, 401]  # the helper's enrolment used 2 of the 5 per minute
    throttled = await client.post(VERIFY, json={"mfa_token": challenge["mfa_token"], "code": "123456"})
    assert throttled.status_code == 429
    assert "retry-after" in throttled.headers


async def test_privileged_roles_need_mfa_before_privileged_routes(client: httpx.AsyncClient) -> None:
    admin = await register_and_login(client, role="admin", mfa_enabled=False)
    refused = await client.get("/api/v1/admin/users", headers=admin.headers)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("mfa-required")
    assert (await client.get("/api/v1/me", headers=admin.headers)).status_code == 200  # may still enrol
    moderator = await register_and_login(client, role="moderator", mfa_enabled=False)
    assert (await client.get("/api/v1/admin/users", headers=moderator.headers)).json()["type"].endswith("forbidden")
    user = await register_and_login(client)
    plain = await client.get("/api/v1/admin/users", headers=user.headers)
    assert plain.status_code == 403
    assert plain.json()["type"].endswith(":forbidden")
    enrolled = await register_and_login(client, role="admin")
    assert (await client.get("/api/v1/admin/users", headers=enrolled.headers)).status_code == 200


async def test_sensitive_operations_need_password_and_code(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client, mfa_enabled=True)
    assert user.totp_secret
    body = {"current_password": user.password, "new_password": new_password()}
    no_code = await client.post("/api/v1/auth/password", json=body, headers=user.headers)
    assert no_code.status_code == 403
    wrong_code = await client.post("/api/v1/auth/password", json={**body, "code": "000000"}, headers=user.headers)
    assert wrong_code.status_code == 403
    ok = await client.post(
        "/api/v1/auth/password", json={**body, "code": next_totp_code(client, user.totp_secret)}, headers=user.headers
    )
    assert ok.status_code == 204
    disable_no_code = await client.post(
        "/api/v1/auth/mfa/totp/disable", json={"current_password": body["new_password"]}, headers=user.headers
    )
    assert disable_no_code.status_code == 403
    disabled = await client.post(
        "/api/v1/auth/mfa/totp/disable",
        json={"current_password": body["new_password"], "code": next_totp_code(client, user.totp_secret)},
        headers=user.headers,
    )
    assert disabled.status_code == 204
    plain = await login(client, user.email, body["new_password"])
    assert "access_token" in plain  # MFA is off again
    assert {"mfa_disabled", "reauth_failed"} <= set(await actions(client))


async def test_moderators_need_mfa_for_moderation_but_not_for_user_features(
    settings: Settings, clock: FrozenClock
) -> None:
    app = create_app(settings, clock=clock)

    async def moderate(principal: Annotated[Principal, require(Permission.catalog_moderate)]) -> dict[str, str]:
        return {"role": principal.role.value}

    async def search(principal: Annotated[Principal, require(Permission.catalog_search)]) -> dict[str, str]:
        return {"role": principal.role.value}

    app.add_api_route("/api/v1/_test/moderate", moderate, methods=["POST"])
    app.add_api_route("/api/v1/_test/search", search, methods=["GET"])
    async with support.client_for(app) as client:
        bare = await register_and_login(client, role="moderator", mfa_enabled=False)
        assert (await client.get("/api/v1/_test/search", headers=bare.headers)).status_code == 200
        refused = await client.post("/api/v1/_test/moderate", headers=bare.headers)
        assert refused.json()["type"].endswith("mfa-required")
        enrolled = await register_and_login(client, role="moderator")
        allowed = await client.post("/api/v1/_test/moderate", headers=enrolled.headers)
        assert allowed.json() == {"role": "moderator"}
        user = await register_and_login(client, mfa_enabled=True)
        assert (await client.post("/api/v1/_test/moderate", headers=user.headers)).json()["type"].endswith(":forbidden")
