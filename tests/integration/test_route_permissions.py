"""Every route declares its access rule: exactly one of ``require(...)``/``public_route()`` (SR-2.10).

A new route without a row in ``EXPECTED`` (or without a marker) fails here; so does a stale row.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from torrent_streamer.auth.dependencies import Requirement, public_marker

PUBLIC = "public"
# Core operations routes (core imports no domain, so they cannot carry the marker): anonymous by
# design (/metrics checks its own bearer token). Listed here explicitly, checked by module.
CORE_PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# Framework routes (not APIRoute): the OpenAPI document and the docs UI.
FRAMEWORK_PUBLIC = {("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")}

EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/.well-known/jwks.json"): PUBLIC,
    ("POST", "/api/v1/auth/register"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/mfa/verify"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): PUBLIC,
    ("POST", "/api/v1/auth/logout-all"): "profile_own",
    ("POST", "/api/v1/auth/web/login"): PUBLIC,
    ("POST", "/api/v1/auth/web/mfa/verify"): PUBLIC,
    ("POST", "/api/v1/auth/web/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/web/logout"): PUBLIC,
    ("GET", "/api/v1/auth/sessions"): "profile_own",
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): "profile_own",
    ("POST", "/api/v1/auth/password"): "profile_own",
    ("POST", "/api/v1/auth/mfa/totp/setup"): "profile_own",
    ("POST", "/api/v1/auth/mfa/totp/enable"): "profile_own",
    ("POST", "/api/v1/auth/mfa/totp/disable"): "profile_own",
    ("GET", "/api/v1/me"): "profile_own",
    ("PATCH", "/api/v1/me"): "profile_own",
    ("DELETE", "/api/v1/me"): "profile_own",
    ("GET", "/api/v1/me/export"): "profile_own",
    ("GET", "/api/v1/admin/users"): "admin_users",
    ("GET", "/api/v1/admin/users/{user_id}"): "admin_users",
    ("PATCH", "/api/v1/admin/users/{user_id}"): "admin_users",
    ("DELETE", "/api/v1/admin/users/{user_id}/sessions"): "admin_users",
    ("GET", "/api/v1/admin/audit"): "admin_audit",
    # catalog, torrents and streaming (the stream route authenticates by its signed token),
    # the web player and the admin panel (panel routes resolve a panel session, same permissions)
    ("GET", "/static/{digest}/{name:path}"): PUBLIC,
    ("GET", "/app"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/app/manifest.webmanifest"): PUBLIC,
    ("GET", "/admin/login"): PUBLIC,
    ("POST", "/admin/login"): PUBLIC,
    ("POST", "/admin/login/code"): PUBLIC,
    ("GET", "/admin/mfa/enrol"): "profile_own",
    ("POST", "/admin/mfa/enrol"): "profile_own",
    ("POST", "/admin/logout"): "profile_own",
    ("GET", "/admin/reauth"): "profile_own",
    ("POST", "/admin/reauth"): "profile_own",
    ("POST", "/csp-report"): PUBLIC,
    ("GET", "/admin"): "catalog_moderate",
    ("GET", "/admin/users"): "admin_users",
    ("POST", "/admin/keys/rotate"): "admin_users",
    ("POST", "/admin/users/{user_id}/role"): "admin_users",
    ("POST", "/admin/users/{user_id}/disable"): "admin_users",
    ("POST", "/admin/users/{user_id}/revoke"): "admin_users",
    ("GET", "/admin/audit"): "admin_audit",
    ("GET", "/admin/moderation"): "catalog_moderate",
    ("POST", "/admin/moderation/{entry_id}/{action}"): "catalog_moderate",
    ("GET", "/admin/indexers"): "admin_indexers",
    ("POST", "/admin/indexers"): "admin_indexers",
    ("POST", "/admin/indexers/{indexer_id}/test"): "admin_indexers",
    ("POST", "/admin/indexers/{indexer_id}/delete"): "admin_indexers",
    ("GET", "/admin/torrents"): "admin_torrents",
    ("POST", "/admin/torrents/block"): "admin_torrents",
    ("POST", "/admin/torrents/unblock/{blocked_id}"): "admin_torrents",
    ("POST", "/admin/torrents/evict"): "admin_torrents",
    ("GET", "/api/v1/torrents/search"): "catalog_search",
    ("GET", "/api/v1/catalog/works"): "catalog_search",
    ("GET", "/api/v1/catalog/works/{work_id}/releases"): "catalog_search",
    ("POST", "/api/v1/catalog"): "catalog_submit",
    ("POST", "/api/v1/catalog/{entry_id}/report"): "catalog_report",
    ("GET", "/api/v1/catalog/queue"): "catalog_moderate",
    ("POST", "/api/v1/catalog/{entry_id}/approve"): "catalog_moderate",
    ("POST", "/api/v1/catalog/{entry_id}/reject"): "catalog_moderate",
    ("DELETE", "/api/v1/catalog/{entry_id}"): "catalog_moderate",
    ("GET", "/api/v1/admin/indexers"): "admin_indexers",
    ("POST", "/api/v1/admin/indexers"): "admin_indexers",
    ("DELETE", "/api/v1/admin/indexers/{indexer_id}"): "admin_indexers",
    ("POST", "/api/v1/torrents"): "torrents_use",
    ("GET", "/api/v1/torrents"): "torrents_use",
    ("GET", "/api/v1/torrents/{torrent_id}"): "torrents_use",
    ("DELETE", "/api/v1/torrents/{torrent_id}"): "torrents_use",
    ("POST", "/api/v1/torrents/{torrent_id}/retry"): "torrents_use",
    ("GET", "/api/v1/torrents/{torrent_id}/events"): "torrents_use",
    ("PUT", "/api/v1/me/history/{torrent_id}/{index}"): "torrents_use",
    ("GET", "/api/v1/me/history"): "torrents_use",
    ("GET", "/api/v1/admin/torrents"): "admin_torrents",
    ("GET", "/api/v1/admin/blocked"): "admin_torrents",
    ("POST", "/api/v1/admin/blocked"): "admin_torrents",
    ("DELETE", "/api/v1/admin/blocked/{blocked_id}"): "admin_torrents",
    ("POST", "/api/v1/torrents/{torrent_id}/files/{index}/stream"): "torrents_use",
    ("GET", "/api/v1/stream/{info_hash}/{token}"): PUBLIC,
    # playback: the decision checks ownership; HLS and WebVTT authenticate by the same signed token
    ("POST", "/api/v1/torrents/{torrent_id}/files/{index}/playback"): "torrents_use",
    ("GET", "/api/v1/stream/{info_hash}/{token}/hls/{variant}/master.m3u8"): PUBLIC,
    ("GET", "/api/v1/stream/{info_hash}/{token}/hls/{variant}/video.m3u8"): PUBLIC,
    ("GET", "/api/v1/stream/{info_hash}/{token}/hls/{variant}/init.mp4"): PUBLIC,
    ("GET", "/api/v1/stream/{info_hash}/{token}/hls/{variant}/{segment}.m4s"): PUBLIC,
    ("GET", "/api/v1/stream/{info_hash}/{token}/subtitles/{ref}.vtt"): PUBLIC,
    ("GET", "/api/v1/stream/{info_hash}/{token}/subtitles/{ref}.m3u8"): PUBLIC,
    ("GET", "/api/v1/torrents/{torrent_id}/files/{index}/subtitles.vtt"): "torrents_use",
}


def access_markers(dependant: Dependant) -> list[str]:
    found: list[str] = []
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Requirement):
            found.append(dependency.call.permission.value)
        elif dependency.call is public_marker:
            found.append(PUBLIC)
        found.extend(access_markers(dependency))
    return found


def route_table(app: FastAPI) -> dict[tuple[str, str], str]:
    """(method, path) → permission or "public", for every route (included routers flattened)."""
    table: dict[tuple[str, str], str] = {}
    for context in routing.iter_route_contexts(app.routes):
        methods: set[str] = set(context.methods or set()) - {"HEAD", "OPTIONS"}
        path = str(context.path)
        for method in methods:
            key = (method, path)
            if not isinstance(context.original_route, APIRoute):
                assert key in FRAMEWORK_PUBLIC, f"unexpected non-API route {key}"
                continue
            if key in CORE_PUBLIC:
                assert context.endpoint is not None
                assert context.endpoint.__module__ == "torrent_streamer.core.health", key
                continue
            markers = set(access_markers(context.dependant))
            assert len(markers) == 1, f"{method} {path} must carry exactly one access rule, found {markers or 'none'}"
            table[key] = markers.pop()
    return table


def test_every_route_declares_exactly_its_expected_permission(app: FastAPI) -> None:
    table = route_table(app)
    missing = {key: rule for key, rule in table.items() if key not in EXPECTED}
    assert not missing, f"routes without a row in EXPECTED (declare their permission): {missing}"
    stale = set(EXPECTED) - set(table)
    assert not stale, f"rows in EXPECTED for routes that do not exist: {stale}"
    wrong = {key: (table[key], EXPECTED[key]) for key in table if table[key] != EXPECTED[key]}
    assert not wrong, f"routes whose permission differs from EXPECTED (actual, expected): {wrong}"


def _fill(path: str) -> str:
    parts = [
        ("0" if part.endswith("index}") else "00000000-0000-4000-8000-000000000000") if part.startswith("{") else part
        for part in path.split("/")
    ]
    return "/".join(parts)


@pytest.mark.parametrize("key", sorted(k for k, rule in EXPECTED.items() if rule != PUBLIC))
async def test_protected_routes_refuse_anonymous_callers(client: httpx.AsyncClient, key: tuple[str, str]) -> None:
    method, path = key
    response = await client.request(method, _fill(path))
    if path.startswith("/admin"):  # the HTML panel sends anonymous browsers to its sign-in page
        assert response.status_code == 303, response.text
        assert response.headers["location"].startswith("/admin/login")
        return
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_route_without_an_access_rule_fails_the_walk(app: FastAPI) -> None:
    async def forgotten() -> dict[str, str]:
        return {}

    app.add_api_route("/api/v1/_test/forgotten", forgotten, methods=["GET"])
    with pytest.raises(AssertionError, match="exactly one access rule"):
        route_table(app)


def test_a_route_with_both_rules_fails_the_walk(app: FastAPI) -> None:
    from torrent_streamer.auth.dependencies import public_route, require
    from torrent_streamer.auth.permissions import Permission

    async def confused() -> dict[str, str]:
        return {}

    app.add_api_route(
        "/api/v1/_test/confused",
        confused,
        methods=["GET"],
        dependencies=[public_route(), require(Permission.admin_users)],
    )
    with pytest.raises(AssertionError, match="exactly one access rule"):
        route_table(app)
