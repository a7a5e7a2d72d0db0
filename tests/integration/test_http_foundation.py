"""HTTP edge: security headers, CORS, body limit, problem+json, request ids, hosts, proxies, HTTPS.

SR-1.4, SR-3.6, SR-5.1, SR-5.2, SR-5.3 (proxy trust), SR-6.2.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict

from tests import support
from tests.unit.test_config import good_production
from torrent_streamer.app import create_app
from torrent_streamer.core.config import Settings
from torrent_streamer.core.errors import PROBLEM_MEDIA_TYPE

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str


def with_test_routes(app: FastAPI) -> FastAPI:
    async def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd SELECT * FROM users")

    async def echo(body: Echo) -> Echo:
        return body

    async def whoami(request: Request) -> dict[str, str | None]:
        return {"ip": request.client.host if request.client else None, "scheme": request.url.scheme}

    app.add_api_route("/api/v1/_test/boom", boom, methods=["GET"])
    app.add_api_route("/api/v1/_test/echo", echo, methods=["POST"])
    app.add_api_route("/api/v1/_test/whoami", whoami, methods=["GET"])
    return app


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == status
    assert str(body["type"]).startswith("urn:torrent-streamer:problem:")
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    text = response.text.lower()
    for leak in ("traceback", "/etc/passwd", "select *", "sqlalchemy", 'file "', "python"):
        assert leak not in text
    return body  # type: ignore[no-any-return]


async def test_security_headers_on_success_and_error_responses(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/api/v1/does-not-exist"):
        response = await client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # plain HTTP: no HSTS


@pytest.mark.parametrize(("method", "status"), [("GET", 404), ("DELETE", 405)])
async def test_404_and_405_are_problem_json(client: httpx.AsyncClient, method: str, status: int) -> None:
    path = "/api/v1/nope" if status == 404 else "/healthz"
    assert_problem(await client.request(method, path), status)


async def test_500_never_leaks_internals(settings: Settings) -> None:
    app = with_test_routes(create_app(settings))
    async with support.client_for(app) as client:
        response = await client.get("/api/v1/_test/boom")
    body = assert_problem(response, 500)
    assert "secret internal detail" not in response.text
    assert body["title"] == "Internal server error"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_422_lists_invalid_fields_without_echoing_input(settings: Settings) -> None:
    app = with_test_routes(create_app(settings))
    async with support.client_for(app) as client:
        unknown = await client.post("/api/v1/_test/echo", json={"name": "a", "extra": "sneaky-value"})
        wrong_type = await client.post("/api/v1/_test/echo", json={"name": 5})
        broken = await client.post(
            "/api/v1/_test/echo", content=b"{not json", headers={"content-type": "application/json"}
        )
    body = assert_problem(unknown, 422)
    assert "sneaky-value" not in unknown.text
    assert body["invalid_params"]
    assert_problem(wrong_type, 422)
    assert_problem(broken, 422)


async def test_request_id_is_propagated_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"x-request-id": "abc12345-request"})
    assert given.headers["x-request-id"] == "abc12345-request"
    generated = await client.get("/healthz", headers={"x-request-id": "bad id with spaces;<script>"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32


async def test_cors_allows_configured_origins_only(settings_factory: Callable[..., Settings]) -> None:
    app = create_app(settings_factory(cors_origins=["https://app.example.org"]))
    async with support.client_for(app) as client:
        preflight = {"access-control-request-method": "POST"}
        allowed = await client.options("/api/v1/auth/login", headers={"origin": "https://app.example.org", **preflight})
        denied = await client.options("/api/v1/auth/login", headers={"origin": "https://evil.example", **preflight})
        simple = await client.get("/healthz", headers={"origin": "https://evil.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.org"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert denied.status_code == 400
    assert "access-control-allow-origin" not in denied.headers
    assert "access-control-allow-origin" not in simple.headers


async def test_body_over_the_limit_is_refused_before_buffering(settings_factory: Callable[..., Settings]) -> None:
    app = with_test_routes(create_app(settings_factory(max_body_bytes=2048)))
    async with support.client_for(app) as client:
        declared = await client.post(
            "/api/v1/_test/echo", content=b"x" * 4096, headers={"content-type": "application/json"}
        )

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"y" * 1024

        streamed = await client.post(
            "/api/v1/_test/echo", content=chunks(), headers={"content-type": "application/json"}
        )
        small = await client.post("/api/v1/_test/echo", json={"name": "ok"})
    assert_problem(declared, 413)
    assert streamed.status_code == 413
    assert small.status_code == 200


async def test_unknown_host_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"host": "evil.example"})
    assert response.status_code == 400
    assert response.json()["type"].endswith("invalid-host")


async def test_forwarded_headers_are_ignored_from_untrusted_peers(settings: Settings) -> None:
    app = with_test_routes(create_app(settings))
    async with support.client_for(app, client_addr=("203.0.113.9", 1234)) as client:
        response = await client.get(
            "/api/v1/_test/whoami", headers={"x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https"}
        )
    assert response.json() == {"ip": "203.0.113.9", "scheme": "http"}


async def test_forwarded_headers_are_used_from_a_trusted_proxy(settings_factory: Callable[..., Settings]) -> None:
    app = with_test_routes(create_app(settings_factory(trusted_proxies=["10.0.0.0/8"])))
    async with support.client_for(app, client_addr=("10.1.2.3", 1234)) as client:
        response = await client.get(
            "/api/v1/_test/whoami", headers={"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https"}
        )
    assert response.json() == {"ip": "198.51.100.7", "scheme": "https"}
    assert response.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains; preload"


async def test_production_redirects_http_to_https_and_sends_hsts(clean_db: str, tmp_path: object) -> None:
    settings = good_production(database_url=clean_db, data_dir=tmp_path, trusted_hosts=["testserver"], redis_url=None)
    app = create_app(settings)
    assert app.docs_url is None
    async with support.client_for(app, client_addr=("10.0.0.5", 1)) as client:
        plain = await client.get("/api/v1/x?a=1", follow_redirects=False)
        health = await client.get("/healthz")
        secure = await client.get("/healthz", headers={"x-forwarded-proto": "https"})
    assert plain.status_code == 308
    assert plain.headers["location"] == "https://testserver/api/v1/x?a=1"
    assert health.status_code == 200
    assert secure.headers["strict-transport-security"].startswith("max-age=63072000")


async def test_openapi_is_served_under_v1(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.1")


async def test_oversized_headers_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-big": "a" * 20000})
    assert_problem(response, 431)
