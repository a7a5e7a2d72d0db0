"""Operations routes: ``/healthz`` (alive), ``/readyz`` (DB, Redis, engine), ``/metrics``."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from torrent_streamer.core.deps import ServicesDep
from torrent_streamer.core.errors import NotFound
from torrent_streamer.core.state import Services

router = APIRouter(include_in_schema=False)

ReadinessCheck = Callable[[Services], Awaitable[bool]]
CHECK_TIMEOUT = 2.0


async def check_database(services: Services) -> bool:
    async with services.db_engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return True


async def check_redis(services: Services) -> bool:
    if services.redis is None:
        return True
    return bool(await services.redis.ping())


def readiness_checks(services: Services) -> dict[str, ReadinessCheck]:
    checks: dict[str, ReadinessCheck] = {"database": check_database, "redis": check_redis}
    checks.update(services.extras.get("readiness_checks", {}))
    return checks


async def _run(check: ReadinessCheck, services: Services) -> bool:
    try:
        return await asyncio.wait_for(check(services), CHECK_TIMEOUT)
    except Exception:  # noqa: BLE001 - a failing dependency is "not ready", whatever it raised
        return False


@router.get("/healthz", name="healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", name="readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks = readiness_checks(services)
    results = await asyncio.gather(*(_run(check, services) for check in checks.values()))
    report = {name: ("ok" if ok else "failing") for name, ok in zip(checks, results, strict=True)}
    ready = all(results)
    services.metrics.readiness.set(1 if ready else 0)
    body = {"status": "ready" if ready else "not-ready", "node": services.settings.node_name, "checks": report}
    return JSONResponse(body, status_code=200 if ready else 503)


def metrics_allowed(request: Request, services: Services) -> bool:
    token = services.settings.metrics_token
    header = request.headers.get("authorization", "")
    if token is not None:
        expected = f"Bearer {token.get_secret_value()}"
        return hmac.compare_digest(header.encode(), expected.encode())
    if services.settings.is_production:
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics", name="metrics")
async def metrics(request: Request, services: ServicesDep) -> Response:
    if not metrics_allowed(request, services):
        raise NotFound()  # do not advertise the endpoint
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
