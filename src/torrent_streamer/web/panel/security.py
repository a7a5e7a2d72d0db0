"""Pure rules of the panel: cookie attributes, timeouts, CSRF tokens, cross-site refusal, the redirect allow-list.

No I/O here, so the rules are tested directly (SR-2.7, SR-2.8, SR-2.9, SR-3.4, SR-6.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from urllib.parse import urlsplit

COOKIE_NAME = "__Host-ts_panel"
LOGIN_COOKIE_NAME = "__Host-ts_panel_login"  # binds the sign-in forms' CSRF token before a session exists
IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
LOGIN_COOKIE_SECONDS = 15 * 60
CSRF_FIELD = "csrf_token"
DASHBOARD = "/admin"
# Fetch Metadata values a state-changing panel request may carry: the panel's own pages, or a user action.
SAFE_FETCH_SITES = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The only places a `next=` parameter may send the browser (SR-3.4).
ALLOWED_NEXT = frozenset(
    {
        "/admin",
        "/admin/users",
        "/admin/moderation",
        "/admin/torrents",
        "/admin/audit",
        "/admin/indexers",
    }
)


def cookie_header(name: str, value: str, max_age: int) -> str:
    """``__Host-`` cookie: Secure, no Domain, Path=/; HttpOnly and SameSite=Strict (SR-2.7)."""
    return f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Strict"


def clear_cookie_header(name: str) -> str:
    return f"{name}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_expired(now: datetime, last_seen_at: datetime, expires_at: datetime) -> bool:
    """Idle (15 min since the last request) or absolute (8 h since sign-in) timeout reached (SR-2.8)."""
    return now >= expires_at or now - last_seen_at >= IDLE_TIMEOUT


def _mac(secret_key: str, purpose: str, value: bytes) -> str:
    digest = hmac.new(secret_key.encode(), purpose.encode() + b"\x00" + value, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def session_csrf_token(secret_key: str, session_id: uuid.UUID) -> str:
    """The synchronizer token of a panel session: HMAC-bound to the session, never stored."""
    return _mac(secret_key, "panel-csrf", session_id.bytes)


def login_csrf_token(secret_key: str, login_nonce: str) -> str:
    """The sign-in forms' token, bound to the short-lived pre-session cookie."""
    return _mac(secret_key, "panel-login-csrf", login_nonce.encode())


def tokens_match(expected: str, presented: object) -> bool:
    return isinstance(presented, str) and hmac.compare_digest(expected.encode(), presented.encode())


def safe_next(value: str | None) -> str:
    """A redirect target from the allow-list; anything else (absolute URLs, ``//host``…) → dashboard."""
    return value if value in ALLOWED_NEXT else DASHBOARD


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, default port dropped; None when it is not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[parts.scheme] else "")


def cross_site_reason(*, origin: str | None, fetch_site: str | None, own_origins: Collection[str]) -> str | None:
    """Why a state-changing request comes from another site (Fetch Metadata, then ``Origin``), else None.

    Checked on top of the CSRF token: a valid token posted from another site is still refused.
    """
    site = fetch_site.strip().lower() if fetch_site is not None else None
    if site is not None and site not in SAFE_FETCH_SITES:
        return "sec-fetch-site"
    if origin is None:
        return None
    if origin.strip() == "null":
        # The panel's own forms send ``null`` too (Referrer-Policy: no-referrer); then the browser's
        # Fetch Metadata must vouch for it. Otherwise a sandboxed frame or a cross-site redirect.
        return None if site == "same-origin" else "origin"
    return None if origin_of(origin) in own_origins else "origin"


def is_fresh(reauthenticated_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """Did this session prove password + TOTP within ``window`` (destructive actions, SR-2.9)?"""
    return reauthenticated_at is not None and timedelta(0) <= now - reauthenticated_at <= window
