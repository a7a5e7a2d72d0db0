"""The web client's refresh-token cookie (docs/auth.md): HttpOnly/Secure/SameSite=Strict, scoped to
``/api/v1/auth/web``, CSRF-guarded (custom header + Origin), rotation and reuse detection unchanged,
logout and logout-all end it (SR-2.2, SR-2.3, SR-2.7, SR-6.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests import support
from tests.auth_helpers import new_email, new_password
from torrent_streamer.auth.endpoints_web import COOKIE

WEB = "/api/v1/auth/web"
SAME_ORIGIN = {"X-TS-CSRF": "1", "Origin": "http://testserver"}


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app) as http:
        yield http


def cookie_of(response: httpx.Response) -> str:
    header = response.headers["set-cookie"]
    name, _, rest = header.partition("=")
    assert name == COOKIE
    return rest.split(";", 1)[0]


async def web_sign_up_and_in(client: httpx.AsyncClient) -> tuple[str, str]:
    email, password = new_email(), new_password()
    assert (await client.post("/api/v1/auth/register", json={"email": email, "password": password})).status_code == 201
    response = await client.post(f"{WEB}/login", headers=SAME_ORIGIN, json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "token_type", "expires_in"}  # no refresh token in JSON
    return response.json()["access_token"], cookie_of(response)


async def refresh(client: httpx.AsyncClient, cookie: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post(
        f"{WEB}/refresh", headers={**(SAME_ORIGIN if headers is None else headers), "Cookie": f"{COOKIE}={cookie}"}
    )


async def test_cookie_attributes_and_rotation(client: httpx.AsyncClient) -> None:
    access, cookie = await web_sign_up_and_in(client)
    email, password = new_email(), new_password()
    assert (await client.post("/api/v1/auth/register", json={"email": email, "password": password})).status_code == 201
    login = await client.post(f"{WEB}/login", headers=SAME_ORIGIN, json={"email": email, "password": password})
    attributes = [part.strip() for part in login.headers["set-cookie"].split(";")]
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/auth/web"} <= set(attributes)
    assert login.headers["cache-control"] == "no-store"

    rotated = await refresh(client, cookie)
    assert rotated.status_code == 200, rotated.text
    new_cookie = cookie_of(rotated)
    assert new_cookie != cookie
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {rotated.json()['access_token']}"})
    assert me.status_code == 200

    # the rotated token again, after the successor was used: reuse revokes the whole family
    assert (await refresh(client, new_cookie)).status_code == 200
    reused = await refresh(client, cookie)
    assert reused.status_code == 401
    assert cookie_of(reused) == ""  # the browser forgets it
    assert (await refresh(client, new_cookie)).status_code == 401
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://testserver"},
        {"X-TS-CSRF": "1"},
        {"X-TS-CSRF": "1", "Origin": "https://evil.example"},
        {"X-TS-CSRF": "yes", "Origin": "http://testserver"},
    ],
)
async def test_refresh_refuses_cross_site_requests(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    _, cookie = await web_sign_up_and_in(client)
    refused = await refresh(client, cookie, headers)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("csrf-refused")
    assert (await refresh(client, cookie)).status_code == 200  # the refused request rotated nothing


async def test_logout_and_logout_all_end_the_cookie_session(client: httpx.AsyncClient) -> None:
    _, cookie = await web_sign_up_and_in(client)
    out = await client.post(f"{WEB}/logout", headers={**SAME_ORIGIN, "Cookie": f"{COOKIE}={cookie}"})
    assert out.status_code == 204
    assert cookie_of(out) == ""
    assert (await refresh(client, cookie)).status_code == 401

    access, cookie = await web_sign_up_and_in(client)
    everywhere = await client.post("/api/v1/auth/logout-all", headers={"Authorization": f"Bearer {access}"})
    assert everywhere.status_code == 204
    assert (await refresh(client, cookie)).status_code == 401
    missing = await client.post(f"{WEB}/refresh", headers=SAME_ORIGIN)
    assert missing.status_code == 401
    assert missing.json()["type"].endswith("signed-out")
