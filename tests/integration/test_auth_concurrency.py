"""Uniqueness and single-use rules under concurrency (``asyncio.gather``; meaningful on PostgreSQL):
registration, first signing key, mfa_token, TOTP step, recovery code."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from tests import support
from tests.auth_helpers import login, new_email, new_password, next_totp_code, register_and_login, services_of
from torrent_streamer.auth.keyring import KeyRing
from torrent_streamer.auth.models import AuthSession, SigningKey
from torrent_streamer.users.models import User

VERIFY = "/api/v1/auth/mfa/verify"


async def test_concurrent_registrations_of_one_email_create_one_account(client: httpx.AsyncClient) -> None:
    email = new_email()
    responses = await asyncio.gather(
        *(client.post("/api/v1/auth/register", json={"email": email, "password": new_password()}) for _ in range(4))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1
    async with services_of(client).sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(User).where(User.email == email)) == 1


async def test_instances_racing_to_create_the_first_key_agree(client: httpx.AsyncClient) -> None:
    services = services_of(client)
    # The app role may not delete signing keys (least privilege): clear them as the administrator.
    admin = support.engine_for(support.admin_url(services.settings.effective_database_url))
    try:
        async with admin.begin() as connection:
            await connection.execute(SigningKey.__table__.delete())
    finally:
        await admin.dispose()
    rings = [KeyRing(services.sessionmaker, services.secret_box, services.clock) for _ in range(3)]
    await asyncio.gather(*(ring.ensure_key() for ring in rings))
    kids = {(await ring.signing_key()).kid for ring in rings}
    async with services.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(SigningKey)) == 1
    assert len(kids) == 1


async def test_one_mfa_token_and_code_yield_one_session(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client, mfa_enabled=True)
    assert user.totp_secret
    challenge = await login(client, user.email, user.password)
    code = next_totp_code(client, user.totp_secret)
    body = {"mfa_token": challenge["mfa_token"], "code": code}
    responses = await asyncio.gather(*(client.post(VERIFY, json=body) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 401, 401]


async def test_a_recovery_code_is_spent_once_under_concurrency(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client, mfa_enabled=True)
    challenges = [await login(client, user.email, user.password) for _ in range(2)]
    code = user.recovery_codes[0]
    responses = await asyncio.gather(
        *(client.post(VERIFY, json={"mfa_token": c["mfa_token"], "code": code}) for c in challenges)
    )
    assert sorted(r.status_code for r in responses) == [200, 401]
    async with services_of(client).sessionmaker() as session:
        sessions = await session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user.user_id)
        )
    assert sessions == 3  # first password sign-in, the helper's MFA sign-in, one winner here
