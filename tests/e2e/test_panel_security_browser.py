"""Panel hardening in real Chromium: destructive actions after a fresh password + TOTP only, staff without MFA
reach only enrolment, cross-site posts refused even with a valid CSRF token, the dashboard lists the events
the code records (SR-2.9, SR-6.1, SR-6.4)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import LiveServer, PageWatch
from tests.e2e.browser_accounts import make_account, next_code
from tests.e2e.test_panel_browser import confirm_identity, sign_in

pytestmark = pytest.mark.browser
INFO_HASH = "c" * 40


def test_disable_revoke_and_block_need_password_and_totp_within_five_minutes(
    server: LiveServer, watched_page: tuple[Page, PageWatch]
) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    target = make_account(server, "user")
    sign_in(page, server, admin)
    server.clock.advance(minutes=5, seconds=1)  # the sign-in itself was password + TOTP: now stale
    reauth_url = f"{server.base_url}/admin/reauth?next=%2Fadmin%2Fusers"

    page.goto("/admin/users")
    page.locator(f'tr[data-user-id="{target.user_id}"]').get_by_role("button", name="Disable").click()
    expect(page).to_have_url(reauth_url)
    page.goto("/admin/users")
    expect(page.locator(f'tr[data-user-id="{target.user_id}"] td').nth(2)).to_have_text("active")  # unchanged
    page.locator(f'tr[data-user-id="{target.user_id}"]').get_by_role("button", name="Revoke sessions").click()
    expect(page).to_have_url(reauth_url)
    page.goto("/admin/audit?action=admin_sessions_revoke")
    expect(page.get_by_text("No events match.")).to_be_visible()

    page.goto("/admin/torrents")
    page.get_by_role("textbox", name="Info-hash").fill(INFO_HASH)
    page.get_by_label("Reason").fill("court order")
    page.get_by_role("button", name="Block").click()
    expect(page).to_have_url(f"{server.base_url}/admin/reauth?next=%2Fadmin%2Ftorrents")
    confirm_identity(page, server, admin)
    expect(page).to_have_url(f"{server.base_url}/admin/torrents")
    expect(page.get_by_text(INFO_HASH)).to_have_count(0)  # nothing was blocked before the re-authentication
    page.get_by_role("textbox", name="Info-hash").fill(INFO_HASH)
    page.get_by_label("Reason").fill("court order")
    page.get_by_role("button", name="Block").click()
    expect(page.get_by_role("status")).to_contain_text("is blocked")

    server.clock.advance(minutes=4)  # still inside the window opened by the re-authentication
    page.goto("/admin/users")
    page.locator(f'tr[data-user-id="{target.user_id}"]').get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("account is disabled")
    server.clock.advance(minutes=1, seconds=1)  # and closed again after five minutes
    page.locator(f'tr[data-user-id="{target.user_id}"]').get_by_role("button", name="Revoke sessions").click()
    expect(page).to_have_url(reauth_url)
    page.goto("/admin/audit?action=panel_reauth")
    expect(page.locator("tbody tr")).to_have_count(1)
    watch.assert_clean()


def test_staff_session_whose_account_lost_mfa_reaches_only_enrolment(
    server: LiveServer, watched_page: tuple[Page, PageWatch]
) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    sign_in(page, server, admin)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    with server.http() as http:  # the second factor is turned off through the API, the panel session lives on
        tokens = http.post("/api/v1/auth/login", json={"email": admin.email, "password": admin.password}).json()
        code = next_code(server, admin.totp_secret or "")
        login = http.post("/api/v1/auth/mfa/verify", json={"mfa_token": tokens["mfa_token"], "code": code})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body = {"current_password": admin.password, "code": next_code(server, admin.totp_secret or "")}
        assert http.post("/api/v1/auth/mfa/totp/disable", json=body, headers=headers).status_code == 204
    for path in ("/admin", "/admin/users", "/admin/audit", "/admin/torrents", "/admin/indexers", "/admin/reauth"):
        page.goto(path)
        expect(page).to_have_url(f"{server.base_url}/admin/mfa/enrol")
    expect(page.locator("#totp-secret")).to_be_visible()
    watch.assert_clean()


def _cookie_and_token(page: Page) -> tuple[str, str]:
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "__Host-ts_panel")
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    return cookie, token


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
    ],
    ids=["foreign-origin", "null-origin", "fetch-cross-site", "fetch-same-site", "origin-wins"],
)
def test_cross_site_posts_are_refused_even_with_a_valid_csrf_token(
    server: LiveServer, watched_page: tuple[Page, PageWatch], headers: dict[str, str]
) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    target = make_account(server, "user")
    sign_in(page, server, admin)
    page.goto("/admin/users")
    cookie, token = _cookie_and_token(page)
    with server.http() as http:
        form = {"csrf_token": token, "disabled": "true"}
        sent = {"Cookie": f"__Host-ts_panel={cookie}", **headers}
        refused = http.post(f"/admin/users/{target.user_id}/disable", data=form, headers=sent)
        assert refused.status_code == 403
        assert "sent from another site" in refused.text
        login = http.post("/admin/login", data={"email": admin.email, "password": "x", "csrf_token": "x"},
                          headers=headers)  # fmt: skip
        assert login.status_code == 403
        own = {"Cookie": f"__Host-ts_panel={cookie}", "Origin": server.base_url, "Sec-Fetch-Site": "same-origin"}
        allowed = http.post(f"/admin/users/{target.user_id}/revoke", data={"csrf_token": token}, headers=own)
        assert allowed.status_code == 303
        assert allowed.headers["location"] == "/admin/users?notice=revoked"
    page.goto("/admin/users")
    expect(page.locator(f'tr[data-user-id="{target.user_id}"] td').nth(2)).to_have_text("active")
    page.goto("/admin/audit?action=panel_origin_refused")
    expect(page.locator("tbody tr")).to_have_count(1)
    watch.assert_clean()


def test_dashboard_lists_refresh_token_reuse_as_recorded(
    server: LiveServer, watched_page: tuple[Page, PageWatch]
) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    victim = make_account(server, "user")
    with server.http() as http:
        tokens = http.post("/api/v1/auth/login", json={"email": victim.email, "password": victim.password}).json()
        assert http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 200
        server.clock.advance(minutes=2)  # past any grace window: a plain replay of a rotated token
        replay = http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert replay.status_code == 401
    sign_in(page, server, admin)
    events = page.locator("section[aria-labelledby=events-title] tbody")
    expect(events.get_by_role("cell", name="refresh_token_reuse", exact=True)).to_have_count(1)
    watch.assert_clean()


def test_signing_key_rotation_needs_a_fresh_reauthentication(
    server: LiveServer, watched_page: tuple[Page, PageWatch]
) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    with server.http() as http:
        before = {key["kid"] for key in http.get("/.well-known/jwks.json").json()["keys"]}
    sign_in(page, server, admin)
    server.clock.advance(minutes=5, seconds=1)
    page.goto("/admin")
    page.get_by_role("button", name="Rotate signing key").click()
    expect(page).to_have_url(f"{server.base_url}/admin/reauth?next=%2Fadmin")
    with server.http() as http:  # nothing rotated yet
        assert {key["kid"] for key in http.get("/.well-known/jwks.json").json()["keys"]} == before
    confirm_identity(page, server, admin)
    expect(page).to_have_url(f"{server.base_url}/admin")
    page.get_by_role("button", name="Rotate signing key").click()
    expect(page.get_by_role("status")).to_contain_text("new signing key")
    with server.http() as http:
        after = {key["kid"] for key in http.get("/.well-known/jwks.json").json()["keys"]}
    assert before < after
    assert len(after - before) == 1
    page.goto("/admin/audit?action=signing_key_rotate")
    expect(page.locator("tbody tr")).to_have_count(1)
    watch.assert_clean()
