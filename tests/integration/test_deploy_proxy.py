"""The documented proxy deployment (SR-5.1, SR-5.3): behind nginx/Caddy with TS_TRUSTED_PROXIES,
the client address is the proxy's view of it; a forged X-Forwarded-For neither changes who the
client is nor escapes the per-IP rate limits, whether the proxy overwrites or appends the header."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI, Request

from tests import support
from torrent_streamer.app import create_app
from torrent_streamer.core.config import Settings
from torrent_streamer.core.deps import ip_rate_limit

PROXY = ("172.30.0.1", 40000)  # compose's gateway, the default TS_TRUSTED_PROXIES
REAL_CLIENT = "198.51.100.7"


def proxied_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    async def whoami(request: Request) -> dict[str, str | None]:
        return {"ip": request.client.host if request.client else None, "scheme": request.url.scheme}

    app.add_api_route("/api/v1/_test/whoami", whoami, methods=["GET"])
    app.add_api_route(
        "/api/v1/_test/limited", whoami, methods=["GET"], dependencies=[Depends(ip_rate_limit("proxy", "3/minute"))]
    )
    return app


async def test_an_appended_forged_hop_is_ignored(settings_factory: Callable[..., Settings]) -> None:
    app = proxied_app(settings_factory(trusted_proxies=["172.30.0.1/32"]))
    async with support.client_for(app, client_addr=PROXY) as client:
        response = await client.get(
            "/api/v1/_test/whoami",
            headers={"x-forwarded-for": f"6.6.6.6, 10.0.0.1, {REAL_CLIENT}", "x-forwarded-proto": "https"},
        )
    assert response.json() == {"ip": REAL_CLIENT, "scheme": "https"}


async def test_forged_addresses_through_the_proxy_do_not_escape_the_ip_limit(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(trusted_proxies=["172.30.0.1/32"], redis_key_prefix=f"ts-test-{support.RUN_ID}-px")
    app = proxied_app(settings)
    async with support.client_for(app, client_addr=PROXY) as client:
        statuses = [
            (
                await client.get("/api/v1/_test/limited", headers={"x-forwarded-for": f"203.0.113.{i}, {REAL_CLIENT}"})
            ).status_code
            for i in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]


async def test_forged_addresses_from_an_untrusted_peer_do_not_escape_the_ip_limit(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(trusted_proxies=["172.30.0.1/32"], redis_key_prefix=f"ts-test-{support.RUN_ID}-ux")
    app = proxied_app(settings)
    async with support.client_for(app, client_addr=("192.0.2.50", 5555)) as client:
        responses = [
            await client.get(
                "/api/v1/_test/limited",
                headers={"x-forwarded-for": f"203.0.113.{i}", "x-forwarded-proto": "https"},
            )
            for i in range(4)
        ]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].json() == {"ip": "192.0.2.50", "scheme": "http"}
