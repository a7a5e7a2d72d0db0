"""Static files and page headers of the panel and the player, over the ASGI app (no browser).

SRI on every script/stylesheet (SR-6.3), strict CSP without unsafe-inline (SR-6.2), immutable static URLs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import httpx

from torrent_streamer.web.rendering import WEB_CSP

PAGES = ["/app"]


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if any(name.startswith("on") for name in attributes) or "style" in attributes:
            self.inline_styles += 1
        if tag == "script" or (tag == "link" and attributes.get("rel") == "stylesheet"):
            self.tags.append((tag, attributes))
        if tag == "script":
            self._in_script = not attributes.get("src")
        if tag == "style":
            self.inline_styles += 1

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


async def assert_page_is_locked_down(client: httpx.AsyncClient, path: str, html: str) -> int:
    """Every script/stylesheet is self-hosted with a matching sha384 integrity; no inline code."""
    collector = TagCollector()
    collector.feed(html)
    assert collector.inline_scripts == 0, path
    assert collector.inline_styles == 0, path
    assert collector.tags, f"{path} has no script or stylesheet"
    for tag, attributes in collector.tags:
        url = attributes.get("src") if tag == "script" else attributes.get("href")
        assert url is not None
        assert url.startswith("/static/"), url
        assert attributes.get("crossorigin") == "anonymous"
        integrity = attributes.get("integrity") or ""
        assert integrity.startswith("sha384-"), (path, url)
        body = (await client.get(url)).content
        assert integrity == "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
    return len(collector.tags)


def assert_page_headers(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == WEB_CSP
    assert "unsafe-inline" not in WEB_CSP
    assert "unsafe-eval" not in WEB_CSP
    assert "frame-ancestors 'none'" in WEB_CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


async def test_player_page_has_sri_and_strict_csp(client: httpx.AsyncClient) -> None:
    response = await client.get("/app")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_page_headers(response)
    # 2 stylesheets; hls.js, playback.js, api.js, now-playing.js, player.js, works.js: each self-hosted with SRI
    assert await assert_page_is_locked_down(client, "/app", response.text) == 8


async def test_app_is_installable_and_has_a_favicon(client: httpx.AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    html = (await client.get("/app")).text
    assert '<link rel="manifest" href="/app/manifest.webmanifest">' in html
    manifest = await client.get("/app/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/app"
    assert body["display"] == "standalone"
    sizes = set()
    for icon_entry in body["icons"]:
        fetched = await client.get(icon_entry["src"])
        assert fetched.status_code == 200, icon_entry
        sizes.add(icon_entry["sizes"])
    assert {"192x192", "512x512"} <= sizes
    assert "manifest-src 'self'" in WEB_CSP


async def test_static_files_are_immutable_and_content_addressed(client: httpx.AsyncClient) -> None:
    html = (await client.get("/app")).text
    url = re.search(r'src="(/static/[0-9a-f]{16}/js/player\.js)"', html)
    assert url is not None
    response = await client.get(url.group(1))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"].startswith("text/javascript")
    etag = response.headers["etag"]
    assert (await client.get(url.group(1), headers={"if-none-match": etag})).status_code == 304
    head = await client.head(url.group(1))
    assert head.status_code == 200
    assert head.content == b""
    # A stale or forged digest, or a path outside static/, is not served.
    assert (await client.get("/static/0000000000000000/js/player.js")).status_code == 404
    digest = url.group(1).split("/")[2]
    assert (await client.get(f"/static/{digest}/../templates/base.html")).status_code == 404
    assert (await client.get(f"/static/{digest}/%2e%2e/rendering.py")).status_code == 404


async def test_panel_sign_in_page_has_sri_csp_and_a_login_csrf_cookie(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/login?next=//evil.example/")
    assert response.status_code == 200
    assert_page_headers(response)
    assert await assert_page_is_locked_down(client, "/admin/login", response.text) == 1
    assert 'name="next" value="/admin"' in response.text  # not an allow-listed path: dashboard
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-ts_panel_login=")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict"):
        assert attribute in cookie
    assert "Domain" not in cookie


async def test_panel_pages_redirect_to_sign_in_without_a_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/users")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=%2Fadmin%2Fusers"
    refused = await client.post("/admin/login", data={"email": "a@b.test", "password": "x", "csrf_token": "forged"})
    assert refused.status_code == 403
    assert "tampered with" in refused.text
