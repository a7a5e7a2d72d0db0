"""Root-level browser routes: content-addressed static files and the ``/app`` web player page.

Static files are immutable (the digest is in the URL); pages get the strict CSP from ``Web.render``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from torrent_streamer.auth.dependencies import public_route
from torrent_streamer.web.assets import IMMUTABLE_CACHE, STATIC_PREFIX
from torrent_streamer.web.dependencies import WebDep

router = APIRouter(include_in_schema=False)


@router.api_route(STATIC_PREFIX + "/{digest}/{name:path}", methods=["GET", "HEAD"], dependencies=[public_route()])
async def web_static(digest: str, name: str, request: Request, web: WebDep) -> Response:
    asset = web.assets.lookup(digest, name)
    if asset is None:
        return Response(status_code=404, headers={"cache-control": "no-store"})
    etag = f'"{asset.digest}"'
    headers = {"cache-control": IMMUTABLE_CACHE, "etag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else asset.body
    headers["content-length"] = str(len(asset.body))
    return Response(body, media_type=asset.content_type, headers=headers)


@router.get("/app", dependencies=[public_route()])  # the page is public; its API calls carry tokens
async def web_player(web: WebDep) -> HTMLResponse:
    return web.render("app/index.html", {"title": "Player"})


@router.get("/app/manifest.webmanifest", dependencies=[public_route()])
async def web_manifest(web: WebDep) -> Response:
    """The PWA manifest (installable on a phone's home screen); icon URLs carry their content digest."""
    return Response(web.manifest(), media_type="application/manifest+json", headers={"cache-control": "no-cache"})


@router.get("/favicon.ico", dependencies=[public_route()])
async def favicon(web: WebDep) -> Response:
    asset = web.assets.get("icons/favicon.ico")
    return Response(asset.body, media_type="image/x-icon", headers={"cache-control": "public, max-age=86400"})
