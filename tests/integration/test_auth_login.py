"""Sign-in: enumeration resistance, back-off lockout and its expiry, per-IP limits, rehash, audit (SR-2.4, SR-2.6)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select, update

from tests import support
from tests.auth_helpers import new_email, new_password, register_and_login, reset_ip_limits, services_of
from torrent_streamer.auth.context import AuthRuntime
from torrent_streamer.auth.passwords import ARGON2_MEMORY_KIB, ARGON2_TIME_COST
from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.users.models import User

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"


@pytest.fixture
async def fresh_ip_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client from its own documentation-range /64, so address limits of other tests never interfere.

    IPv6 (2001:db8::/32) so addresses never collide within a run: 250 IPv4 ones did (a 429 early).
    The random part is in the /64 prefix: limits count IPv6 clients per /64.
    """
    address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::{secrets.token_hex(2)}"
    async with support.client_for(app, client_addr=(address, 40000)) as client:
        yield client


def comparable(response: httpx.Response) -> tuple[int, dict[str, Any], str | None]:
    body = response.json()
    body.pop("request_id", None)
    return response.status_code, body, response.headers.get("www-authenticate")


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": password})


async def test_unknown_account_and_wrong_password_look_identical(
    fresh_ip_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = fresh_ip_client
    user = await register_and_login(client)
    runtime = services_of(client).extras["auth"]
    assert isinstance(runtime, AuthRuntime)
    verifications: list[str] = []
    real_verify = runtime.passwords.verify

    async def counting_verify(password_hash: str, password: str) -> bool:
        verifications.append(password_hash)
        return await real_verify(password_hash, password)

    monkeypatch.setattr(runtime.passwords, "verify", counting_verify)
    wrong_password = await attempt(client, user.email, "Wrong-Passw0rd!!")
    unknown = await attempt(client, new_email(), "Wrong-Passw0rd!!")
    assert comparable(wrong_password) == comparable(unknown)
    assert wrong_password.status_code == 401
    assert wrong_password.json()["type"].endswith("invalid-credentials")
    assert len(verifications) == 2  # the unknown account also paid for one Argon2id verification
    assert all(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for h in verifications)


async def test_a_disabled_account_answers_like_a_wrong_password(fresh_ip_client: httpx.AsyncClient) -> None:
    client = fresh_ip_client
    user = await register_and_login(client)
    async with services_of(client).sessionmaker() as session:
        await session.execute(update(User).where(User.id == user.user_id).values(disabled=True))
        await session.commit()
    disabled = await attempt(client, user.email, user.password)
    unknown = await attempt(client, new_email(), user.password)
    assert comparable(disabled) == comparable(unknown)


async def test_duplicate_registration_is_indistinguishable(client: httpx.AsyncClient) -> None:
    await reset_ip_limits(client)
    email = new_email()
    first = await client.post(REGISTER, json={"email": email, "password": new_password()})
    second = await client.post(REGISTER, json={"email": email.upper(), "password": new_password()})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert set(first.json()) == {"email", "display_name", "detail"}
    async with services_of(client).sessionmaker() as session:
        users = (await session.scalars(select(User).where(User.email == email))).all()
    assert len(users) == 1


@pytest.mark.parametrize(
    "password", ["short1!A", "alllowercase1!x", "ALLUPPERCASE1!X", "NoDigitsHere!!x", "NoSymbols12345x"]
)
async def test_registration_enforces_the_password_policy(client: httpx.AsyncClient, password: str) -> None:
    await reset_ip_limits(client)
    response = await client.post(REGISTER, json={"email": new_email(), "password": password})
    assert response.status_code == 422
    assert response.json()["type"].endswith("weak-password")


@pytest.mark.parametrize(
    "password", ["Password123!", "P@ssw0rd2024!", "Qwerty123456!", "!!Summer2019!!", "Dragon1987$$$"]
)
async def test_registration_refuses_common_passwords(client: httpx.AsyncClient, password: str) -> None:
    await reset_ip_limits(client)
    response = await client.post(REGISTER, json={"email": new_email(), "password": password})
    assert response.status_code == 422
    assert any(p["reason"] == "not a common or breached password" for p in response.json()["invalid_params"])


async def test_lockout_backs_off_and_expires(fresh_ip_client: httpx.AsyncClient, clock: FrozenClock) -> None:
    client = fresh_ip_client
    user = await register_and_login(client)
    for _ in range(5):
        assert (await attempt(client, user.email, "Wrong-Passw0rd!!")).status_code == 401
    locked = await attempt(client, user.email, user.password)  # even the right password
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "60"
    assert locked.json()["type"].endswith("login-locked")
    assert "Wait 1 minute, then try again" in locked.json()["detail"]  # says how long, for a person
    clock.advance(seconds=61)
    assert (await attempt(client, "nobody-" + user.email, "x")).status_code == 401  # other accounts unaffected
    assert (await attempt(client, user.email, "Wrong-Passw0rd!!")).status_code == 401  # 6th failure: 120 s
    again = await attempt(client, user.email, user.password)
    assert again.status_code == 429
    assert again.headers["retry-after"] == "120"
    clock.advance(seconds=121)
    assert (await attempt(client, user.email, user.password)).status_code == 200  # success resets the count
    assert (await attempt(client, user.email, "Wrong-Passw0rd!!")).status_code == 401
    assert (await attempt(client, user.email, user.password)).status_code == 200
    async with services_of(client).sessionmaker() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count("login_locked") == 2
    assert actions.count("login_failed") == 8  # 7 for the user, 1 for the other address


async def test_unknown_accounts_lock_exactly_like_known_ones(fresh_ip_client: httpx.AsyncClient) -> None:
    client = fresh_ip_client
    user = await register_and_login(client)
    ghost = new_email()
    for email in (user.email, ghost):
        for _ in range(5):
            await attempt(client, email, "Wrong-Passw0rd!!")
    known, unknown = await attempt(client, user.email, "x"), await attempt(client, ghost, "x")
    assert comparable(known) == comparable(unknown)
    assert known.status_code == 429


async def test_per_ip_limit_answers_429_with_retry_after(fresh_ip_client: httpx.AsyncClient) -> None:
    statuses = [(await attempt(fresh_ip_client, new_email(), "Wrong-Passw0rd!!")).status_code for _ in range(20)]
    assert set(statuses) == {401}
    refused = await attempt(fresh_ip_client, new_email(), "Wrong-Passw0rd!!")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def test_outdated_hash_parameters_are_upgraded_at_sign_in(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(user.password)
    async with services_of(client).sessionmaker() as session:
        await session.execute(update(User).where(User.id == user.user_id).values(password_hash=weak))
        await session.commit()
    assert (await attempt(client, user.email, user.password)).status_code == 200
    async with services_of(client).sessionmaker() as session:
        stored = (await session.scalars(select(User.password_hash).where(User.id == user.user_id))).one()
    assert stored.startswith(f"$argon2id$v=19$m={ARGON2_MEMORY_KIB},t={ARGON2_TIME_COST},p=1$")


async def test_sign_in_events_are_audited_without_secrets(fresh_ip_client: httpx.AsyncClient) -> None:
    client = fresh_ip_client
    user = await register_and_login(client)
    await attempt(client, user.email, "Wrong-Passw0rd!!")
    async with services_of(client).sessionmaker() as session:
        events = (await session.scalars(select(AuditEvent))).all()
    by_action = {event.action: event for event in events}
    assert {"register", "login", "login_failed"} <= set(by_action)
    failed = by_action["login_failed"]
    assert failed.ip is not None
    assert failed.ip.startswith("2001:db8:")
    assert failed.target_id == str(user.user_id)
    assert failed.outcome == "failure"
    dumped = repr([(e.details, e.target_id, e.user_agent) for e in events])
    assert user.password not in dumped
    assert "Wrong-Passw0rd" not in dumped
    assert user.refresh_token not in dumped


async def test_tokens_and_hashes_never_appear_in_responses(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    me = (await client.get("/api/v1/me", headers=user.headers)).text
    for secret_field in ("password", "hash", "totp", "secret"):
        assert secret_field not in me


async def test_a_quiet_day_forgets_old_failures(fresh_ip_client: httpx.AsyncClient, clock: FrozenClock) -> None:
    client = fresh_ip_client
    user = await register_and_login(client)
    for _ in range(4):
        await attempt(client, user.email, "Wrong-Passw0rd!!")
    clock.advance(hours=25)
    await attempt(client, user.email, "Wrong-Passw0rd!!")  # counts as the first failure again
    assert (await attempt(client, user.email, user.password)).status_code == 200
