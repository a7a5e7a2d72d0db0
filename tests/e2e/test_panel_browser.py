"""The admin panel in real Chromium: TOTP sign-in, cookie flags, role change after a fresh re-auth, CSRF refusals,
stored XSS rendered inert, no CSP violation on any page, idle expiry (SR-2.7–2.9, 3.3, 3.4, 6.1–6.3)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import LiveServer, PageWatch, screenshot
from tests.e2e.browser_accounts import Account, make_account, next_code

pytestmark = pytest.mark.browser
XSS_NAME = "<img src=x onerror=alert(1)>"


def sign_in(page: Page, server: LiveServer, account: Account, *, start: str = "/admin") -> None:
    assert account.totp_secret
    page.goto(start)
    expect(page).to_have_url(re.compile(r"/admin/login"))
    page.get_by_label("E-mail").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label(re.compile("Code from your authenticator")).fill(next_code(server, account.totp_secret))
    page.get_by_role("button", name="Sign in").click()


def confirm_identity(page: Page, server: LiveServer, account: Account, *, password: str | None = None) -> None:
    """Fill and send the re-authentication page (password + the next TOTP code)."""
    page.get_by_label("Your password").fill(password or account.password)
    page.get_by_label("Code from your authenticator app").fill(next_code(server, account.totp_secret or ""))
    page.get_by_role("button", name="Confirm").click()


def test_sign_in_with_totp_every_page_clean_and_cookie_flags(
    server: LiveServer, watched_page: tuple[Page, PageWatch]
) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    page.goto("/admin/login")
    screenshot(page, "panel-login")
    sign_in(page, server, admin, start="/admin/audit")
    expect(page).to_have_url(f"{server.base_url}/admin/audit")  # back to the allow-listed `next`
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    screenshot(page, "panel-audit")
    for path, heading, name in (("/admin", "Dashboard", "panel-dashboard"), ("/admin/users", "Users", "panel-users")):
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        screenshot(page, name)
    cookies = {c["name"]: c for c in page.context.cookies()}
    panel = cookies["__Host-ts_panel"]
    assert panel["httpOnly"] is True
    assert panel["secure"] is True
    assert panel["sameSite"] == "Strict"
    assert panel["path"] == "/"
    assert not panel["domain"].startswith(".")
    assert "__Host-ts_panel_login" not in cookies
    assert page.evaluate("document.cookie") == ""  # HttpOnly: invisible to scripts
    watch.assert_clean()


def test_open_redirects_are_refused(server: LiveServer, watched_page: tuple[Page, PageWatch]) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    sign_in(page, server, admin, start="/admin/login?next=https://evil.example/")
    expect(page).to_have_url(f"{server.base_url}/admin")
    watch.assert_clean()


def test_role_change_needs_reauthentication_and_xss_stays_inert(
    server: LiveServer, watched_page: tuple[Page, PageWatch]
) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    target = make_account(server, "user", display_name=XSS_NAME)
    sign_in(page, server, admin)
    server.clock.advance(minutes=5, seconds=1)  # the sign-in's password + TOTP is no longer fresh
    page.goto("/admin/users")
    row = page.locator(f'tr[data-user-id="{target.user_id}"]')
    expect(row.locator(".display-name")).to_have_text(XSS_NAME)  # shown as text, not markup
    assert page.locator('img[src="x"]').count() == 0
    row.get_by_label("Role").select_option("moderator")
    row.get_by_role("button", name="Change role").click()
    expect(page).to_have_url(f"{server.base_url}/admin/reauth?next=%2Fadmin%2Fusers")
    confirm_identity(page, server, admin, password="Wrong-password-1!")
    expect(page.get_by_role("alert")).to_contain_text("password or authentication code is wrong")
    page.goto("/admin/users")
    expect(page.locator(f'tr[data-user-id="{target.user_id}"] td').nth(1)).to_have_text("user")
    page.locator(f'tr[data-user-id="{target.user_id}"]').get_by_role("button", name="Change role").click()
    confirm_identity(page, server, admin)
    expect(page).to_have_url(f"{server.base_url}/admin/users")
    row = page.locator(f'tr[data-user-id="{target.user_id}"]')
    row.get_by_label("Role").select_option("moderator")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status")).to_contain_text("role was changed")
    expect(page.locator(f'tr[data-user-id="{target.user_id}"] td').nth(1)).to_have_text("moderator")
    screenshot(page, "panel-users-role-changed")
    page.goto("/admin/audit?action=admin_role_change")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.goto("/admin/audit?action=reauth_failed")
    expect(page.locator("tbody tr")).to_have_count(1)
    watch.assert_clean()


@pytest.mark.parametrize("tamper", ["missing", "wrong"])
def test_form_posts_without_a_valid_csrf_token_are_refused(
    server: LiveServer, watched_page: tuple[Page, PageWatch], tamper: str
) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    target = make_account(server, "user")
    sign_in(page, server, admin)
    page.goto("/admin/users")
    form = page.locator(f'tr[data-user-id="{target.user_id}"] form[action$="/revoke"]')
    token = form.locator('input[name="csrf_token"]')
    if tamper == "missing":
        token.evaluate("element => element.remove()")
    else:
        token.evaluate("element => { element.value = 'A'.repeat(43); }")
    form.get_by_role("button", name="Revoke sessions").click()
    expect(page.get_by_role("heading", name="Refused")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("security token")
    screenshot(page, f"panel-csrf-refused-{tamper}")
    page.goto("/admin/audit?action=admin_sessions_revoke")
    expect(page.get_by_text("No events match.")).to_be_visible()
    page.goto("/admin/audit?action=panel_csrf_refused")
    expect(page.locator("tbody tr")).to_have_count(1)
    watch.assert_clean()


def test_idle_session_expires_after_15_minutes(server: LiveServer, watched_page: tuple[Page, PageWatch]) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin")
    sign_in(page, server, admin)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    server.clock.advance(minutes=14)
    page.goto("/admin/users")  # activity within the idle window keeps the session alive
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    server.clock.advance(minutes=15, seconds=1)
    page.goto("/admin/users")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=%2Fadmin%2Fusers$"))
    watch.assert_clean()


def test_admin_without_mfa_enrols_first(server: LiveServer, watched_page: tuple[Page, PageWatch]) -> None:
    page, watch = watched_page
    admin = make_account(server, "admin", mfa_enabled=False)
    page.goto("/admin/login")
    page.get_by_label("E-mail").fill(admin.email)
    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{server.base_url}/admin/mfa/enrol")
    page.goto("/admin/users")  # nothing else is reachable before enrolment
    expect(page).to_have_url(f"{server.base_url}/admin/mfa/enrol")
    secret = page.locator("#totp-secret").inner_text()
    screenshot(page, "panel-enrol")
    page.get_by_label("First code from the app").fill(next_code(server, secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="Continue to the dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    watch.assert_clean()


def test_plain_users_cannot_sign_in(server: LiveServer, watched_page: tuple[Page, PageWatch]) -> None:
    page, watch = watched_page
    user = make_account(server, "user")
    page.goto("/admin/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Only administrators and moderators")
    assert "__Host-ts_panel" not in {c["name"] for c in page.context.cookies()}
    watch.console_errors = [m for m in watch.console_errors if "403" not in m]
    watch.assert_clean()
