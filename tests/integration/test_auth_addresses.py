"""Address-keyed limits count IPv6 clients per /64; MFA is throttled per address; lockout cannot be
turned against the owner; Argon2 hashing is bounded (security wave 2: SR-2.6, SR-2.11, SR-5.3)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests import support
from tests.auth_helpers import new_email, new_password, register_and_login, services_of
from torrent_streamer.app import create_app
from torrent_streamer.auth.context import AuthRuntime
from torrent_streamer.auth.throttle import SLOWDOWN_THRESHOLD
from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.core.config import Settings

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
WRONG = "Wrong-Passw0rd!!"


def random_slash_64() -> str:
    """A documentation-range /64 of its own (``2001:db8:xxxx:xxxx::``), unique within a run."""
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    """Another client of an app whose lifespan already runs (so the limiter's counts persist)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def own_64_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app, client_addr=(f"{random_slash_64()}::1", 40000)) as client:
        yield client


async def test_forty_sign_ups_from_forty_addresses_of_one_slash_64_are_limited_as_one_client(app: FastAPI) -> None:
    prefix = random_slash_64()
    statuses: list[int] = []
    async with support.running_app(app):
        for host in range(1, 41):
            address = f"{prefix}:{secrets.token_hex(2)}:{host:x}:{secrets.token_hex(2)}:{host:x}"
            async with client_from(app, address) as client:
                response = await client.post(REGISTER, json={"email": new_email(), "password": new_password()})
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
        async with client_from(app, f"{random_slash_64()}::1") as neighbour:
            other = await neighbour.post(REGISTER, json={"email": new_email(), "password": new_password()})
    assert statuses[:10] == [201] * 10  # 10 registrations per client per hour
    assert statuses[10:] == [429] * 30
    assert other.status_code == 201  # another /64 is another client


async def test_mfa_verification_is_throttled_per_address(own_64_client: httpx.AsyncClient) -> None:
    statuses = []
    for _ in range(200):
        response = await own_64_client.post("/api/v1/auth/mfa/verify", json={"mfa_token": "x" * 40, "code": "123456"})
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses == [401] * 20 + [429]


async def test_a_strangers_failures_never_lock_the_owner_out(app: FastAPI, clock: FrozenClock) -> None:
    async with (
        support.client_for(app, client_addr=(f"{random_slash_64()}::1", 40000)) as owner_client,
        client_from(app, f"{random_slash_64()}::2") as stranger,
    ):
        owner = await register_and_login(owner_client)
        stranger_statuses = [
            (await stranger.post(LOGIN, json={"email": owner.email, "password": WRONG})).status_code for _ in range(12)
        ]
        assert stranger_statuses[:5] == [401] * 5
        assert set(stranger_statuses[5:]) == {429}  # the stranger's own (account, address) pair is locked
        signed_in = await owner_client.post(LOGIN, json={"email": owner.email, "password": owner.password})
        assert signed_in.status_code == 200, signed_in.text
        assert "access_token" in signed_in.json()
        async with services_of(owner_client).sessionmaker() as session:
            slowed = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "login_slowed"))).all()
    # … but the account was slowed down (a delay, never a lock) and the audit log says so
    assert clock.slept
    assert all(0 < delay <= app.state.settings.login_slowdown_max_seconds for delay in clock.slept)
    assert slowed
    assert slowed[-1].details["delay_seconds"] == clock.slept[-1]


async def test_failures_from_many_addresses_slow_the_account_progressively_up_to_the_cap(
    settings_factory: Callable[..., Settings], clock: FrozenClock
) -> None:
    app = create_app(settings_factory(login_slowdown_max_seconds=3.0), clock=clock)
    async with support.client_for(app, client_addr=(f"{random_slash_64()}::1", 1)) as owner_client:
        owner = await register_and_login(owner_client)
        for attempt in range(SLOWDOWN_THRESHOLD + 5):
            address = f"{random_slash_64()}::{attempt + 1:x}"
            async with client_from(app, address) as attacker:
                response = await attacker.post(LOGIN, json={"email": owner.email, "password": WRONG})
                assert response.status_code == 401  # one failure per address: no pair ever locks
        assert clock.slept == [0.25, 0.5, 1.0, 2.0, 3.0]  # doubling from the 6th attempt, capped at 3 s
        assert (
            await owner_client.post(LOGIN, json={"email": owner.email, "password": owner.password})
        ).status_code == 200
        assert clock.slept[-1] == 3.0
        # a success restarts the account's count: the next sign-in is not slowed
        assert (
            await owner_client.post(LOGIN, json={"email": owner.email, "password": owner.password})
        ).status_code == 200
        assert len(clock.slept) == 6


async def test_hashing_queue_full_answers_503_with_retry_after(
    settings_factory: Callable[..., Settings], clock: FrozenClock
) -> None:
    settings = settings_factory(password_hash_concurrency=1, password_hash_queue=1)
    app = create_app(settings, clock=clock)
    async with support.client_for(app, client_addr=(f"{random_slash_64()}::1", 1)) as client:
        user = await register_and_login(client)
        runtime = services_of(client).extras["auth"]
        assert isinstance(runtime, AuthRuntime)
        capacity = runtime.passwords.capacity()
        holder = object()
        await capacity.acquire_on_behalf_of(holder)  # the one hashing slot is taken (outside the service)
        try:
            body = {"email": user.email, "password": user.password}
            admitted = [asyncio.create_task(client.post(LOGIN, json=body)) for _ in range(2)]
            for _ in range(1000):  # bounded: wait until both are admitted and waiting for the slot
                if runtime.passwords.waiting == 2:
                    break
                await asyncio.sleep(0.01)
            assert runtime.passwords.waiting == 2  # concurrency 1 + queue 1: the bound is reached
            refused = await client.post(LOGIN, json=body)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "2"
            assert refused.json()["type"].endswith("hashing-busy")
            busy_register = await client.post(REGISTER, json={"email": new_email(), "password": new_password()})
            assert busy_register.status_code == 503
        finally:
            capacity.release_on_behalf_of(holder)
        assert [(await task).status_code for task in admitted] == [200, 200]  # served once the slot freed
        assert (await client.post(LOGIN, json={"email": user.email, "password": user.password})).status_code == 200
