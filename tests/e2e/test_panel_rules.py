"""The panel's pure rules without a browser: redirect allow-list, timeouts, CSRF tokens, cookie attributes.

(SR-2.7, SR-2.8, SR-3.4, SR-6.1.)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from torrent_streamer.web.panel import security


@pytest.mark.parametrize("target", sorted(security.ALLOWED_NEXT))
def test_allow_listed_targets_are_kept(target: str) -> None:
    assert security.safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/admin",
        "/\\evil.example",
        "/admin/../app",
        "/admin/users?x=1",
        "/admin/users/",
        "javascript:alert(1)",
        "/ADMIN",
        " /admin",
        "/admin\r\nSet-Cookie: x=1",
    ],
)
def test_anything_else_goes_to_the_dashboard(target: str | None) -> None:
    assert security.safe_next(target) == "/admin"


def test_idle_and_absolute_timeouts() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    absolute = start + security.ABSOLUTE_TIMEOUT
    assert not security.is_expired(start + timedelta(minutes=14, seconds=59), start, absolute)
    assert security.is_expired(start + timedelta(minutes=15), start, absolute)
    late_activity = absolute - timedelta(minutes=1)
    assert not security.is_expired(absolute - timedelta(seconds=1), late_activity, absolute)
    assert security.is_expired(absolute, late_activity, absolute)
    assert timedelta(minutes=15) == security.IDLE_TIMEOUT
    assert timedelta(hours=8) == security.ABSOLUTE_TIMEOUT


def test_csrf_tokens_are_bound_to_key_and_session() -> None:
    session_a, session_b = uuid.uuid4(), uuid.uuid4()
    token = security.session_csrf_token("k" * 48, session_a)
    assert security.tokens_match(token, security.session_csrf_token("k" * 48, session_a))
    assert not security.tokens_match(token, security.session_csrf_token("k" * 48, session_b))
    assert not security.tokens_match(token, security.session_csrf_token("j" * 48, session_a))
    assert not security.tokens_match(token, security.login_csrf_token("k" * 48, str(session_a)))
    assert not security.tokens_match(token, None)
    assert not security.tokens_match(token, "")
    assert not security.tokens_match(token, token[:-1])


def test_cookie_attributes() -> None:
    header = security.cookie_header(security.COOKIE_NAME, "v", 60)
    assert header.startswith("__Host-ts_panel=v;")
    parts = {part.strip() for part in header.split(";")}
    assert {"Path=/", "Secure", "HttpOnly", "SameSite=Strict", "Max-Age=60"} <= parts
    assert not any(part.lower().startswith("domain") for part in parts)
    assert "Max-Age=0" in security.clear_cookie_header(security.COOKIE_NAME)


def test_cookie_tokens_are_stored_hashed() -> None:
    token = security.new_token()
    assert len(token) >= 43
    assert security.token_hash(token) != token
    assert len(security.token_hash(token)) == 64


OWN = {"https://panel.example", "http://127.0.0.1:8000"}


@pytest.mark.parametrize(
    ("origin", "fetch_site", "refused"),
    [
        (None, None, False),  # a client without Fetch Metadata or Origin: the CSRF token still decides
        ("https://panel.example", "same-origin", False),
        ("https://panel.example:443", None, False),
        ("HTTPS://PANEL.EXAMPLE", None, False),
        ("http://127.0.0.1:8000", "same-origin", False),
        (None, "none", False),
        ("null", "same-origin", False),  # own forms under Referrer-Policy: no-referrer
        ("null", None, True),
        ("null", "cross-site", True),
        ("https://evil.example", "same-origin", True),
        ("http://panel.example", None, True),  # another scheme is another origin
        ("https://panel.example:8443", None, True),
        ("https://sub.panel.example", None, True),
        ("javascript:alert(1)", None, True),
        ("https://panel.example", "cross-site", True),
        (None, "same-site", True),
        (None, "cross-site", True),
        (None, "bogus", True),
    ],
)
def test_cross_site_requests_are_recognised(origin: str | None, fetch_site: str | None, refused: bool) -> None:
    reason = security.cross_site_reason(origin=origin, fetch_site=fetch_site, own_origins=OWN)
    assert (reason is not None) is refused


def test_step_up_window() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    window = timedelta(minutes=5)
    assert security.is_fresh(now - timedelta(minutes=5), now, window)
    assert not security.is_fresh(now - timedelta(minutes=5, seconds=1), now, window)
    assert not security.is_fresh(None, now, window)
    assert not security.is_fresh(now + timedelta(seconds=1), now, window)  # a stamp from the future is not trusted
