"""Dependencies for the browser-facing routes: the ``Web`` renderer built at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request

from torrent_streamer.core.deps import ServicesDep
from torrent_streamer.core.state import Services
from torrent_streamer.web.rendering import Web

WEB_KEY = "web"


@asynccontextmanager
async def web_lifespan(services: Services) -> AsyncIterator[None]:
    """Load the static files (and their SRI digests) and the templates once per process."""
    services.extras[WEB_KEY] = Web()
    yield


async def get_web(services: ServicesDep) -> Web:
    web: Web = services.extras[WEB_KEY]
    return web


WebDep = Annotated[Web, Depends(get_web)]


def get_web_from_app(request: Request) -> Web:
    """The renderer for exception handlers, which run outside dependency injection."""
    web: Web = request.app.state.services.extras[WEB_KEY]
    return web
