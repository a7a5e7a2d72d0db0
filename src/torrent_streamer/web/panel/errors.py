"""Panel outcomes that are pages, not problem JSON: sign-in required (303) and refused (403 page).

``install_panel_handlers`` registers them on the app.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from torrent_streamer.web.dependencies import get_web_from_app
from torrent_streamer.web.panel.security import ALLOWED_NEXT, COOKIE_NAME, clear_cookie_header


class PanelLoginRequired(Exception):
    """No live panel session: go to the sign-in page (coming back to ``next`` when allow-listed)."""

    def __init__(self, next_path: str | None = None, *, clear_cookie: bool = False) -> None:
        super().__init__("panel sign-in required")
        self.next_path = next_path
        self.clear_cookie = clear_cookie


class PanelRedirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class PanelForbidden(Exception):
    """A refused panel request (missing permission, missing or wrong CSRF token): a 403 page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _login_required(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, PanelLoginRequired):  # pragma: no cover - registered for this class only
        raise exc
    location = "/admin/login"
    if exc.next_path in ALLOWED_NEXT:
        location += "?" + urlencode({"next": exc.next_path})
    response = RedirectResponse(location, status_code=303)
    if exc.clear_cookie:
        response.headers.append("set-cookie", clear_cookie_header(COOKIE_NAME))
    return response


async def _redirect(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, PanelRedirect):  # pragma: no cover - registered for this class only
        raise exc
    return RedirectResponse(exc.location, status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, PanelForbidden):  # pragma: no cover - registered for this class only
        raise exc
    web = get_web_from_app(request)
    return web.render("panel/forbidden.html", {"title": "Refused", "message": exc.message}, status_code=403)


def install_panel_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PanelLoginRequired, _login_required)
    app.add_exception_handler(PanelRedirect, _redirect)
    app.add_exception_handler(PanelForbidden, _forbidden)
