"""Accounts for browser tests, made through the public API of the live server (roles set in the DB)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import pyotp
from sqlalchemy import update

from tests.e2e.browser import LiveServer
from torrent_streamer.auth import mfa, throttle
from torrent_streamer.auth import service as auth_service
from torrent_streamer.core.state import Services
from torrent_streamer.users.models import User


@dataclass
class Account:
    user_id: uuid.UUID
    email: str
    password: str
    totp_secret: str | None = None


def services(server: LiveServer) -> Services:
    found: Services = server.app.state.services
    return found


def next_code(server: LiveServer, secret: str) -> str:
    """Move the server's clock one TOTP step on (codes are single-use) and return that step's code."""
    server.clock.advance(seconds=mfa.TOTP_INTERVAL)
    return str(pyotp.TOTP(secret, interval=mfa.TOTP_INTERVAL).at(server.clock.now().timestamp()))


async def _set_role(server: LiveServer, user_id: uuid.UUID, role: str) -> None:
    async with services(server).sessionmaker() as session:
        await session.execute(update(User).where(User.id == user_id).values(role=role))
        await session.commit()


async def _reset_login_limits(server: LiveServer) -> None:
    limiter = services(server).limiter
    for limit in throttle.LOGIN_IP_LIMITS:
        await limiter.clear(limit, "login-ip", "ip:127.0.0.1")
    for limit in throttle.MFA_IP_LIMITS:
        await limiter.clear(limit, "mfa-ip", "ip:127.0.0.1")
    await limiter.clear(auth_service.REGISTER_IP_LIMIT, "register-ip", "ip:127.0.0.1")


def make_account(server: LiveServer, role: str = "user", *, mfa_enabled: bool | None = None,
                 display_name: str | None = None) -> Account:  # fmt: skip
    email = f"user-{secrets.token_hex(5)}@example.test"
    password = f"Tq9!{secrets.token_urlsafe(12)}-zK"
    body: dict[str, str] = {"email": email, "password": password}
    if display_name is not None:
        body["display_name"] = display_name
    with server.http() as http:
        assert http.post("/api/v1/auth/register", json=body).status_code == 201
        tokens = http.post("/api/v1/auth/login", json={"email": email, "password": password}).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        user_id = uuid.UUID(http.get("/api/v1/me", headers=headers).json()["id"])
        account = Account(user_id=user_id, email=email, password=password)
        if role != "user":
            server.run(_set_role(server, user_id, role))
        if mfa_enabled if mfa_enabled is not None else role != "user":
            setup = http.post("/api/v1/auth/mfa/totp/setup", json={"current_password": password}, headers=headers)
            assert setup.status_code == 200, setup.text
            account.totp_secret = setup.json()["secret"]
            assert account.totp_secret
            enable = http.post(
                "/api/v1/auth/mfa/totp/enable", json={"code": next_code(server, account.totp_secret)}, headers=headers
            )
            assert enable.status_code == 200, enable.text
    server.run(_reset_login_limits(server))
    return account
