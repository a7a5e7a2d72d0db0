"""Typed dependency aliases for routes: ``SessionDep``, ``SettingsDep``, ``ServicesDep`` …"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.core.clientaddr import client_key
from torrent_streamer.core.clock import Clock
from torrent_streamer.core.config import Settings
from torrent_streamer.core.db import session_scope
from torrent_streamer.core.errors import RateLimited
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.core.ratelimit import Limiter
from torrent_streamer.core.state import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


# The dependencies below are ``async def`` although they never await: FastAPI runs a plain ``def``
# dependency in a worker thread, a thread round trip on every request for an attribute read.
async def get_services(request: Request) -> Services:
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_metrics(services: ServicesDep) -> Metrics:
    return services.metrics


async def get_clock(services: ServicesDep) -> Clock:
    return services.clock


def get_limiter(services: ServicesDep) -> Limiter:
    return services.limiter


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    # aclosing: when the request raises, the inner generator is closed now (session returned to
    # the pool), not left to the garbage collector.
    async with aclosing(session_scope(services.sessionmaker)) as sessions:
        async for session in sessions:
            yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ClockDep = Annotated[Clock, Depends(get_clock)]
LimiterDep = Annotated[Limiter, Depends(get_limiter)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


def client_ip(request: Request) -> str:
    """The peer address, already rewritten from X-Forwarded-For only for trusted proxies."""
    return request.client.host if request.client else "unknown"


async def enforce_limit(services: Services, name: str, limit: str, key: str) -> None:
    """Count one hit of ``limit`` for ``key``; raise 429 with Retry-After when over."""
    result = await services.limiter.hit(limit, name, key)
    if not result.allowed:
        services.metrics.rate_limited.labels(name).inc()
        raise RateLimited(result.retry_after)


def ip_rate_limit(name: str, limit: str) -> Callable[[Request], Awaitable[None]]:
    """A route dependency limiting requests per client address (IPv6 per /64, ``core/clientaddr.py``),
    e.g. ``ip_rate_limit("search", "30/minute")``."""

    async def dependency(request: Request) -> None:
        services = services_of(request)
        await enforce_limit(services, name, limit, client_key(services.settings, client_ip(request)))

    return dependency
