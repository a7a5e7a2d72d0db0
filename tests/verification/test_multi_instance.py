"""Two service processes sharing one PostgreSQL and one Redis behave as one service.

A sign-in limit hit on one node holds on the other; a refresh family revoked on one node is
refused on the other; a signing key rotated by the CLI verifies everywhere (SR-5.3, SR-2.3).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import httpx
import jwt
import pytest

from tests import support
from tests.verification.service import ServiceProcess
from torrent_streamer.auth import keyring

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


def eventually(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.5) -> float:
    """Poll ``check`` until true (black-box: the nodes run on the wall clock); the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(interval)
    return time.monotonic() - started


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def jwks_kids(client: httpx.Client) -> list[str]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    return [key["kid"] for key in response.json()["keys"]]


def cli_ok(node: ServiceProcess, *args: str) -> str:
    result = node.run_cli(*args)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode()


def test_keys_rotated_on_one_node_verify_on_the_other(nodes: tuple[ServiceProcess, ServiceProcess]) -> None:
    """The ring is shared: a new kid signed by A verifies on B; a retired kid dies on both (SR-4.3).

    Each node caches the ring for ``keyring.CACHE_SECONDS``: signing switches to the new key on
    A's next reload (polled via its JWKS, which reloads in the same step); B meets an unknown kid
    and reloads at once; retirement takes effect on each node's next reload.
    """
    node_a, node_b = nodes
    bound = keyring.CACHE_SECONDS + 15
    with (
        httpx.Client(base_url=node_a.base_url, timeout=30) as a,
        httpx.Client(base_url=node_b.base_url, timeout=30) as b,
    ):
        email, password = register(a)

        def sign_in(client: httpx.Client) -> dict[str, str]:
            response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
            assert response.status_code == 200, response.text
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        old = sign_in(a)
        old_kid = kid_of(old["Authorization"].removeprefix("Bearer "))
        assert jwks_kids(a) == jwks_kids(b) == [old_kid]

        new_kid = cli_ok(node_a, "keys", "rotate").strip().removeprefix("new signing key ")
        assert new_kid
        assert new_kid != old_kid
        eventually(lambda: jwks_kids(a)[0] == new_kid, timeout=bound, what="node A picks up the rotated key")
        new = sign_in(a)
        assert kid_of(new["Authorization"].removeprefix("Bearer ")) == new_kid
        assert b.get("/api/v1/me", headers=new).status_code == 200  # B reloads for the unknown kid
        assert a.get("/api/v1/me", headers=new).status_code == 200
        for client in (a, b):  # rotation does not cut off tokens of the previous key
            assert client.get("/api/v1/me", headers=old).status_code == 200
        assert set(jwks_kids(b)) == {old_kid, new_kid}

        assert old_kid in cli_ok(node_b, "keys", "retire", old_kid)
        for name, client in (("A", a), ("B", b)):
            eventually(
                lambda client=client: client.get("/api/v1/me", headers=old).status_code == 401,
                timeout=bound,
                what=f"node {name} refuses the retired kid",
            )
            refused = client.get("/api/v1/me", headers=old)
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert client.get("/api/v1/me", headers=new).status_code == 200
            assert jwks_kids(client) == [new_kid]
