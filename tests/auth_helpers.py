"""Test helpers for authenticated calls: ``register_and_login`` returns a ready ``AuthedUser``.

Admin and moderator users get MFA enrolled (so privileged routes work); the app must run on a
``FrozenClock`` (the ``clock`` fixture), which the helper advances by one TOTP step to avoid replay.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import update

from torrent_streamer.auth import mfa, service, throttle
from torrent_streamer.core.clientaddr import client_key
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.core.state import Services
from torrent_streamer.users.models import User


@dataclass
class AuthedUser:
    user_id: uuid.UUID
    email: str
    password: str
    role: str
    access_token: str
    refresh_token: str
    totp_secret: str | None = None
    recovery_codes: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def new_password() -> str:
    return f"Tq9!{secrets.token_urlsafe(12)}-zK"


def new_email() -> str:
    return f"user-{secrets.token_hex(6)}@example.test"


def app_of(client: httpx.AsyncClient) -> FastAPI:
    transport = client._transport
    app = getattr(transport, "app", None)
    if not isinstance(app, FastAPI):
        raise TypeError("the client is not an ASGI client of the app")
    return app


def services_of(client: httpx.AsyncClient) -> Services:
    services: Services = app_of(client).state.services
    return services


def frozen_clock(client: httpx.AsyncClient) -> FrozenClock:
    clock = services_of(client).clock
    if not isinstance(clock, FrozenClock):
        raise TypeError("auth helpers need the app on a FrozenClock (the clock fixture)")
    return clock


def totp_code(client: httpx.AsyncClient, secret: str) -> str:
    return str(pyotp.TOTP(secret, interval=mfa.TOTP_INTERVAL).at(services_of(client).clock.now().timestamp()))


def next_totp_code(client: httpx.AsyncClient, secret: str) -> str:
    """Advance the frozen clock one TOTP step and return that step's code (never a replay)."""
    frozen_clock(client).advance(seconds=mfa.TOTP_INTERVAL)
    return totp_code(client, secret)


async def reset_ip_limits(client: httpx.AsyncClient) -> None:
    """Forget the per-IP sign-in/registration/refresh counters of the test client's address.

    Suites create many users from 127.0.0.1 in a minute; the limits themselves are tested in
    ``tests/integration/test_auth_login.py`` with this reset not applied.
    """
    services = services_of(client)
    transport_client = getattr(client._transport, "client", ("127.0.0.1", 0))
    key = client_key(services.settings, transport_client[0])
    for limit in throttle.LOGIN_IP_LIMITS:
        await services.limiter.clear(limit, "login-ip", key)
    for limit in throttle.MFA_IP_LIMITS:
        await services.limiter.clear(limit, "mfa-ip", key)
    await services.limiter.clear(service.REGISTER_IP_LIMIT, "register-ip", key)
    await services.limiter.clear(service.REFRESH_IP_LIMIT, "refresh-ip", key)


async def set_role(client: httpx.AsyncClient, user_id: uuid.UUID, role: str) -> None:
    async with services_of(client).sessionmaker() as session:
        await session.execute(update(User).where(User.id == user_id).values(role=role))
        await session.commit()


async def user_id_of(client: httpx.AsyncClient, access_token: str) -> uuid.UUID:
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200, response.text
    return uuid.UUID(response.json()["id"])


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, object]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    await reset_ip_limits(client)
    body: dict[str, object] = response.json()
    return body


async def enroll_mfa(client: httpx.AsyncClient, user: AuthedUser) -> None:
    setup = await client.post(
        "/api/v1/auth/mfa/totp/setup", json={"current_password": user.password}, headers=user.headers
    )
    assert setup.status_code == 200, setup.text
    user.totp_secret = setup.json()["secret"]
    assert user.totp_secret
    enable = await client.post(
        "/api/v1/auth/mfa/totp/enable", json={"code": next_totp_code(client, user.totp_secret)}, headers=user.headers
    )
    assert enable.status_code == 200, enable.text
    user.recovery_codes = enable.json()["recovery_codes"]


async def login_with_mfa(client: httpx.AsyncClient, user: AuthedUser) -> None:
    assert user.totp_secret
    challenge = await login(client, user.email, user.password)
    verify = await client.post(
        "/api/v1/auth/mfa/verify",
        json={"mfa_token": challenge["mfa_token"], "code": next_totp_code(client, user.totp_secret)},
    )
    assert verify.status_code == 200, verify.text
    user.access_token = verify.json()["access_token"]
    user.refresh_token = verify.json()["refresh_token"]


async def register_and_login(
    client: httpx.AsyncClient,
    email: str | None = None,
    role: str = "user",
    *,
    password: str | None = None,
    mfa_enabled: bool | None = None,
) -> AuthedUser:
    """Register, set the role, sign in; admins/moderators (or ``mfa_enabled=True``) get TOTP enrolled."""
    email = email or new_email()
    password = password or new_password()
    registered = await client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert registered.status_code == 201, registered.text
    tokens = await login(client, email, password)
    user_id = await user_id_of(client, str(tokens["access_token"]))
    user = AuthedUser(
        user_id=user_id,
        email=email.strip().lower(),
        password=password,
        role=role,
        access_token=str(tokens["access_token"]),
        refresh_token=str(tokens["refresh_token"]),
    )
    if role != "user":
        await set_role(client, user_id, role)
    if mfa_enabled if mfa_enabled is not None else role in ("admin", "moderator"):
        await enroll_mfa(client, user)
        await login_with_mfa(client, user)
    await reset_ip_limits(client)
    return user
