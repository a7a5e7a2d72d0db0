"""The v1 API: every domain's router under ``/api/v1``, plus the root-level routes.

Adding a domain means adding its router here; nothing else in the app changes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import APIRouter

from torrent_streamer.core.errors import problem_responses
from torrent_streamer.core.state import Services

API_PREFIX = "/api/v1"


def build_api_router() -> APIRouter:
    from torrent_streamer.admin.endpoints import router as admin_router
    from torrent_streamer.auth.endpoints import router as auth_router
    from torrent_streamer.auth.endpoints_web import router as auth_web_router
    from torrent_streamer.catalog.endpoints import router as catalog_router
    from torrent_streamer.streaming.endpoints import router as streaming_router
    from torrent_streamer.streaming.playback import router as playback_router
    from torrent_streamer.torrents.endpoints import router as torrents_router
    from torrent_streamer.users.endpoints import router as users_router

    api = APIRouter(prefix=API_PREFIX, responses=problem_responses(400, 500))  # 400: undecodable body
    # Routes are matched in order, one by one: the stream route, which every Range request of every
    # player takes, comes first (it was tried after a hundred others: ~0.5 ms a request).
    api.include_router(streaming_router)
    api.include_router(auth_router)
    api.include_router(auth_web_router)
    api.include_router(users_router)
    api.include_router(catalog_router)
    api.include_router(torrents_router)
    api.include_router(playback_router)
    api.include_router(admin_router)
    return api


def build_root_routers() -> list[APIRouter]:
    from torrent_streamer.auth.endpoints import jwks_router
    from torrent_streamer.core.health import router as health_router
    from torrent_streamer.web.csp import router as csp_router
    from torrent_streamer.web.endpoints import router as web_router
    from torrent_streamer.web.panel.endpoints import router as panel_router
    from torrent_streamer.web.panel.endpoints_auth import router as panel_auth_router
    from torrent_streamer.web.panel.endpoints_catalog import router as panel_catalog_router
    from torrent_streamer.web.panel.endpoints_torrents import router as panel_torrents_router

    return [
        health_router,
        jwks_router,
        web_router,
        csp_router,
        panel_auth_router,
        panel_router,
        panel_catalog_router,
        panel_torrents_router,
    ]


def lifespan_hooks() -> list[Callable[[Services], AbstractAsyncContextManager[None]]]:
    """Start-up/shut-down of domain singletons, in order (each an async context manager)."""
    from torrent_streamer.auth.context import auth_lifespan
    from torrent_streamer.catalog.dependencies import catalog_lifespan
    from torrent_streamer.cluster.node import cluster_lifespan
    from torrent_streamer.media.runtime import media_lifespan
    from torrent_streamer.streaming.fastpath import stream_lifespan
    from torrent_streamer.torrents.runtime import engine_lifespan, engine_of
    from torrent_streamer.web.dependencies import web_lifespan

    def media_hook(services: Services) -> AbstractAsyncContextManager[None]:
        return media_lifespan(services, engine_of(services))

    return [
        auth_lifespan,
        engine_lifespan,
        cluster_lifespan,
        media_hook,
        catalog_lifespan,
        web_lifespan,
        stream_lifespan,
    ]
