"""Jinja2 rendering for the panel and the player: autoescape on, strict undefined, SRI tags, CSP.

``Web.render`` returns an HTML response carrying the page CSP; no template ever uses ``|safe``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

from torrent_streamer.web.assets import StaticAssets
from torrent_streamer.web.csp import REPORT_DIRECTIVES, REPORTING_ENDPOINTS

TEMPLATES_DIR = Path(__file__).parent / "templates"

# No 'unsafe-inline' anywhere: every script and stylesheet is a self-hosted file (SR-6.2, SR-6.3).
WEB_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    f"base-uri 'none'; {REPORT_DIRECTIVES}"
)
HTML_HEADERS = {
    "content-security-policy": WEB_CSP,
    "reporting-endpoints": REPORTING_ENDPOINTS,
    "cache-control": "no-store",
}


def build_environment(assets: StaticAssets) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def script(name: str) -> Markup:
        asset = assets.get(name)
        return Markup(  # constant template; format() escapes the values
            '<script type="module" src="{}" integrity="{}" crossorigin="anonymous"></script>'
        ).format(asset.url, asset.integrity)

    def stylesheet(name: str) -> Markup:
        asset = assets.get(name)
        return Markup(  # constant template; format() escapes the values
            '<link rel="stylesheet" href="{}" integrity="{}" crossorigin="anonymous">'
        ).format(asset.url, asset.integrity)

    def asset_url(name: str) -> str:
        return assets.get(name).url

    env.globals.update(script=script, stylesheet=stylesheet, asset_url=asset_url)
    return env


class Web:
    """The static assets and the template environment, built once at start-up."""

    def __init__(self, assets: StaticAssets | None = None) -> None:
        self.assets = assets or StaticAssets.load()
        self.env = build_environment(self.assets)

    def manifest(self) -> str:
        """The web app manifest: name, colours, start URL and icons (content-addressed URLs)."""
        icons = [
            {"src": self.assets.get(f"icons/icon-{size}.png").url, "sizes": f"{size}x{size}", "type": "image/png"}
            for size in (192, 512)
        ]
        icons.append({"src": self.assets.get("icons/icon.svg").url, "sizes": "any", "type": "image/svg+xml"})
        return json.dumps(
            {
                "name": "torrent-streamer",
                "short_name": "Streamer",
                "start_url": "/app",
                "scope": "/app",
                "display": "standalone",
                "background_color": "#0d1726",
                "theme_color": "#12233d",
                "icons": icons,
            }
        )

    def render_text(self, template: str, context: dict[str, Any]) -> str:
        return self.env.get_template(template).render(context)

    def render(
        self,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        body = self.render_text(template, context or {})
        return HTMLResponse(body, status_code=status_code, headers={**HTML_HEADERS, **(headers or {})})
