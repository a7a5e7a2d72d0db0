"""Pure-ASGI middleware (no buffering, so streamed bodies keep their back-pressure).

Order, outermost first: proxy headers (only from trusted proxies) → edge (request id, access
log, metrics, security headers, last-resort 500) → trusted hosts → HTTPS redirect → CORS →
body-size limit → the app.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from torrent_streamer.core.errors import PROBLEM_MEDIA_TYPE, problem_body

if TYPE_CHECKING:
    from torrent_streamer.core.metrics import Metrics

log = structlog.get_logger("torrent_streamer.http")

REQUEST_ID_HEADER = "x-request-id"
MAX_HEADER_BYTES = 16 * 1024  # the server (h11) bounds buffering; this refuses what got through
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS_VALUE = "max-age=63072000; includeSubDomains; preload"
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-site"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
)


async def send_problem(
    scope: Scope, send: Send, status: int, headers: Iterable[tuple[str, str]] = (), **kwargs: object
) -> None:
    kwargs.setdefault("request_id", scope.get("state", {}).get("request_id"))
    body = json.dumps(problem_body(status, **kwargs)).encode()  # type: ignore[arg-type]
    raw = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def route_template(scope: Scope) -> str:
    """The matched route's full path template (never the raw path: tokens live in paths)."""
    route = scope.get("route")
    if route is None:
        return "<unmatched>"
    app = scope.get("app")
    full_paths = getattr(getattr(app, "state", None), "route_paths", None)
    if isinstance(full_paths, dict) and id(route) in full_paths:
        return str(full_paths[id(route)])
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class EdgeMiddleware:
    """Request id, structured access log, HTTP metrics, security headers, last-resort 500."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = [500]
        response_started = False
        is_https = scope.get("scheme") == "https"

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder[0] = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", API_CSP)
                if scope["path"].startswith("/api/") or scope["path"].startswith("/.well-known/"):
                    headers.setdefault("cache-control", "no-store")
                if is_https:
                    headers.setdefault("strict-transport-security", HSTS_VALUE)
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            if sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEADER_BYTES:
                await send_problem(scope, send_wrapper, 431, detail="Request headers are too large.")
                return
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            log.error("unhandled_error", exc_type=type(exc).__name__, exc_info=exc)
            if not response_started:
                await send_problem(scope, send_wrapper, 500)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            status = status_holder[0]
            if self.metrics is not None:
                self.metrics.observe_request(scope["method"], route, status, elapsed)
            client = scope.get("client")
            log.info(
                "request",
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client_ip=client[0] if client else None,
            )
            structlog.contextvars.unbind_contextvars("request_id")


def _host_matches(host: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class TrustedHostMiddleware:
    """Refuse requests whose Host header is not configured (problem JSON, 400)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = [h.lower() for h in allowed_hosts]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = _strip_port(Headers(scope=scope).get("host", "").lower())
            if not _host_matches(host, self.allowed):
                await send_problem(scope, send, 400, slug="invalid-host", title="Invalid host header")
                return
        await self.app(scope, receive, send)


class HTTPSRedirectMiddleware:
    """Production: plain-HTTP requests are redirected (308) to HTTPS, health probes excepted."""

    EXEMPT = ("/healthz", "/readyz")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("scheme") == "http" and scope["path"] not in self.EXEMPT:
            host = Headers(scope=scope).get("host", "localhost")
            query = scope.get("query_string", b"").decode("latin-1")
            target = f"https://{host}{scope.get('raw_path', scope['path'].encode()).decode('latin-1')}"
            if query:
                target += f"?{query}"
            await send(
                {
                    "type": "http.response.start",
                    "status": 308,
                    "headers": [(b"location", target.encode("latin-1")), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse bodies over the limit before buffering them: by Content-Length, or while streaming."""

    def __init__(
        self, app: ASGIApp, *, default_limit: int, overrides: dict[tuple[str, str], int] | None = None
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.overrides = overrides or {}

    def limit_for(self, method: str, path: str) -> int:
        return self.overrides.get((method, path.rstrip("/") or "/"), self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            status = 413 if declared.isdigit() else 400
            detail = f"The body limit is {limit} bytes." if status == 413 else "Invalid Content-Length."
            await send_problem(scope, send, status, detail=detail)
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await send_problem(scope, send, 413, detail=f"The body limit is {limit} bytes.")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once we refused, the app's own response is dropped
                await send(message)

        await self.app(scope, limited_receive, guarded_send)
