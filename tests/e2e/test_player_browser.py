"""The web player in real Chromium: sign-in with the MFA step through the public API, CSP-clean page.

Streaming playback (search → add → play → seek) joins once the catalog and streaming routes are on main.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.app_support import sign_in
from tests.e2e.browser import LiveServer, PageWatch, screenshot
from tests.e2e.browser_accounts import make_account, next_code

pytestmark = pytest.mark.browser


def test_player_signs_in_with_mfa_and_out(server: LiveServer, watched_page: tuple[Page, PageWatch]) -> None:
    page, watch = watched_page
    account = make_account(server, "user", mfa_enabled=True, display_name="<b>Viewer</b>")
    page.goto("/app")
    screenshot(page, "player-sign-in")
    sign_in(page, account.email, account.password, signed_in=False)  # MFA comes next
    expect(page.get_by_role("status")).to_contain_text("authenticator")
    page.get_by_label("Authentication code").fill(next_code(server, account.totp_secret or ""))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    expect(page.locator("#who")).to_have_text("<b>Viewer</b>")  # text, never markup
    assert page.locator("#who b").count() == 0
    assert page.evaluate("JSON.stringify(Object.keys(sessionStorage)) + JSON.stringify(Object.keys(localStorage))") == (
        "[][]"
    )  # tokens live in memory only
    screenshot(page, "player-signed-in")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    watch.assert_clean()


def test_player_shows_a_wrong_password_without_leaking(
    server: LiveServer, watched_page: tuple[Page, PageWatch]
) -> None:
    page, watch = watched_page
    account = make_account(server, "user")
    page.goto("/app")
    sign_in(page, account.email, "Not-the-password-1!", signed_in=False)
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("heading", name="Search")).to_be_hidden()
    # The 401 of the sign-in call is logged by Chromium as a failed resource; nothing else may be.
    watch.console_errors = [m for m in watch.console_errors if "401" not in m]
    watch.assert_clean()
