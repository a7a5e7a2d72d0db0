"""Rate limits: 429 + Retry-After, in memory and shared through Redis; Redis outage fallback (SR-5.3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import Depends, FastAPI

from tests import support
from torrent_streamer.app import create_app
from torrent_streamer.core.config import Settings
from torrent_streamer.core.deps import ip_rate_limit
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.core.ratelimit import Limiter


def limited_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    async def ping() -> dict[str, bool]:
        return {"ok": True}

    app.add_api_route(
        "/api/v1/_test/limited", ping, methods=["GET"], dependencies=[Depends(ip_rate_limit("t", "3/minute"))]
    )
    return app


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_over_the_limit_is_429_with_retry_after(settings_factory: Callable[..., Settings], backend: str) -> None:
    if backend == "redis" and not support.redis_available():
        pytest.fail("Redis is required for this test") if support.IN_CI else pytest.skip("no Redis")
    settings = settings_factory(
        redis_url=support.REDIS_URL if backend == "redis" else None,
        redis_key_prefix=f"ts-test-{support.RUN_ID}-{backend}",
    )
    app = limited_app(settings)
    async with support.client_for(app) as client:
        statuses = [(await client.get("/api/v1/_test/limited")).status_code for _ in range(3)]
        refused = await client.get("/api/v1/_test/limited")
        metrics = await client.get("/metrics")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["type"].endswith("rate-limited")
    assert 'ts_rate_limit_hits_total{limit="t"} 1.0' in metrics.text


async def test_limits_are_shared_between_instances_through_redis() -> None:
    if not support.redis_available():
        pytest.fail("Redis is required") if support.IN_CI else pytest.skip("no Redis")
    prefix = f"ts-test-{support.RUN_ID}-shared"
    first = Limiter(redis_url=support.REDIS_URL, key_prefix=prefix)
    second = Limiter(redis_url=support.REDIS_URL, key_prefix=prefix)
    assert first.backend == "redis"
    assert (await first.hit("2/minute", "login", "ip:1")).allowed
    assert (await second.hit("2/minute", "login", "ip:1")).allowed
    refused = await first.hit("2/minute", "login", "ip:1")
    assert not refused.allowed
    assert refused.retry_after > 0
    await first.clear("2/minute", "login", "ip:1")
    await first.aclose()
    await second.aclose()


async def test_redis_outage_falls_back_to_memory_and_keeps_limiting() -> None:
    metrics = Metrics()
    limiter = Limiter(redis_url=f"redis://127.0.0.1:{support.free_port()}/0", metrics=metrics, retry_seconds=60)
    results = [await limiter.hit("2/minute", "login", "ip:9") for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]
    assert metrics.rate_limit_backend_errors._value.get() == 1  # fell back once, then stayed on memory
    assert not await limiter.check_shared()
    await limiter.aclose()


async def test_disabled_limiter_allows_everything() -> None:
    limiter = Limiter(redis_url=None, enabled=False)
    assert all([(await limiter.hit("1/minute", "x")).allowed for _ in range(5)])
