"""The app factory: middleware, error handlers, routers, and a lifespan that builds services.

Nothing is created at import time; ``create_app`` is called by the CLI and by tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from redis.asyncio import Redis
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from torrent_streamer import __version__
from torrent_streamer.api import API_PREFIX, build_api_router, build_root_routers, lifespan_hooks
from torrent_streamer.core.clock import Clock
from torrent_streamer.core.config import Settings, check_production
from torrent_streamer.core.crypto import SecretBox
from torrent_streamer.core.db import create_engine, create_sessionmaker
from torrent_streamer.core.errors import install_error_handlers
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.core.middleware import (
    BodyLimitMiddleware,
    EdgeMiddleware,
    HTTPSRedirectMiddleware,
    TrustedHostMiddleware,
)
from torrent_streamer.core.ratelimit import Limiter
from torrent_streamer.core.secrets import ensure_dev_secrets
from torrent_streamer.core.state import Services
from torrent_streamer.core.zerocopy import offer_sendfile
from torrent_streamer.web.panel.errors import install_panel_handlers

log = structlog.get_logger("torrent_streamer.app")

LifespanHook = Callable[[Services], AbstractAsyncContextManager[None]]


class App(FastAPI):
    """The ASGI app: FastAPI, seeing the server's own ``send`` before any middleware wraps it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            offer_sendfile(scope, send)  # uvicorn on plain TCP: stream bodies may use sendfile
        await super().__call__(scope, receive, send)


def operation_id(route: APIRoute) -> str:
    """Stable operation ids (the Flutter client's method names): the route function's name."""
    return route.name


def build_services(settings: Settings, *, clock: Clock | None = None, metrics: Metrics | None = None) -> Services:
    metrics = metrics or Metrics()
    db_engine = create_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    redis = Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0) if redis_url else None
    if settings.encryption_keys is None:  # ensure_dev_secrets or production checks fill it
        raise RuntimeError("encryption keys are not configured")
    return Services(
        settings=settings,
        db_engine=db_engine,
        sessionmaker=create_sessionmaker(db_engine),
        redis=redis,
        limiter=Limiter(
            redis_url=redis_url,
            key_prefix=settings.redis_key_prefix,
            metrics=metrics,
            retry_seconds=settings.rate_limit_redis_retry_seconds,
            enabled=settings.rate_limit_enabled,
        ),
        metrics=metrics,
        clock=clock or Clock(),
        secret_box=SecretBox(settings.encryption_keys.get_secret_value()),
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    extra_hooks: list[LifespanHook] | None = None,
) -> FastAPI:
    settings = settings or Settings()
    check_production(settings)
    settings = ensure_dev_secrets(settings)
    metrics = Metrics(settings.node_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        services = build_services(settings, clock=clock, metrics=metrics)
        app.state.services = services
        async with AsyncExitStack() as stack:
            stack.push_async_callback(services.db_engine.dispose)
            stack.push_async_callback(services.limiter.aclose)
            if services.redis is not None:
                stack.push_async_callback(services.redis.aclose)
            for hook in [*lifespan_hooks(), *(extra_hooks or [])]:
                await stack.enter_async_context(hook(services))
            log.info("started", version=__version__, env=settings.env.value, node=settings.node_name)
            yield {}
        log.info("stopped")

    app = App(
        title="torrent-streamer",
        version=__version__,
        summary="Stream torrents to the app: accounts, catalog, engine and HTTP Range streaming.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None if settings.is_production else f"{API_PREFIX}/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        debug=False,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    install_panel_handlers(app)
    app.include_router(build_api_router())  # first: see build_api_router on route order
    for router in build_root_routers():
        app.include_router(router)
    # Included routers keep relative paths on their routes: map each route to its full template
    # once, for access logs and metric labels.
    app.state.route_paths = {
        id(context.original_route): str(context.path) for context in iter_route_contexts(app.routes)
    }

    # Added innermost first: each add_middleware wraps what is already there.
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        overrides={("POST", f"{API_PREFIX}/torrents"): settings.max_upload_bytes + 64 * 1024},
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=bool(settings.cors_origins) and "*" not in settings.cors_origins,
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Range", "If-Range", "X-Request-ID", "X-CSRF-Token"],
        expose_headers=["Content-Range", "Accept-Ranges", "Content-Length", "ETag", "Retry-After", "X-Request-ID"],
        max_age=600,
    )
    if settings.is_production:
        app.add_middleware(HTTPSRedirectMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    app.add_middleware(EdgeMiddleware, metrics=metrics)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies or [])
    return app
