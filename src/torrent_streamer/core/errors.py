"""One error tree, rendered as RFC 9457 ``application/problem+json`` by one set of handlers.

    AppError                      (500, base: every domain error carries its HTTP status)
    ├── BadRequest                (400)
    ├── Unauthorized              (401, WWW-Authenticate: Bearer)
    ├── Forbidden                 (403)
    ├── NotFound                  (404)
    ├── Conflict                  (409)
    ├── Gone                      (410)
    ├── PayloadTooLarge           (413)
    ├── UnsupportedMediaType      (415)
    ├── RangeNotSatisfiable       (416)
    ├── Unprocessable             (422)
    ├── RateLimited               (429, Retry-After)
    └── ServiceUnavailable        (503)

Responses never carry a stack trace, SQL, a path or a version (SR-1.4).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:torrent-streamer:problem:"

log = structlog.get_logger("torrent_streamer.errors")


class InvalidParam(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    invalid_params: list[InvalidParam] | None = None


class AppError(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.slug_override = slug
        self.headers = headers or {}
        self.extra = extra or {}

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_BASE + (self.slug_override or self.slug)


class BadRequest(AppError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="torrent-streamer"')


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(AppError):
    status, slug, title = 410, "gone", "Gone"


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class RangeNotSatisfiable(AppError):
    status, slug, title = 416, "range-not-satisfiable", "Range not satisfiable"


class Unprocessable(AppError):
    status, slug, title = 422, "validation-error", "Request validation failed"


def wait_phrase(seconds: float) -> str:
    """How long to wait, for a person: "45 seconds", "2 minutes", "1 hour"."""
    whole = max(1, math.ceil(seconds))
    for size, unit in ((3600, "hour"), (60, "minute")):
        if whole >= size:
            count = math.ceil(whole / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{whole} second{'' if whole == 1 else 's'}"


class RateLimited(AppError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, retry_after: float, detail: str | None = None, **kwargs: Any) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(detail or f"Too many requests. Try again in {wait_phrase(self.retry_after)}.", **kwargs)
        self.headers["Retry-After"] = str(self.retry_after)


class ServiceUnavailable(AppError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


_STATUS_SLUGS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    416: ("range-not-satisfiable", "Range not satisfiable"),
    422: ("validation-error", "Request validation failed"),
    429: ("rate-limited", "Too many requests"),
    431: ("headers-too-large", "Request header fields too large"),
    500: ("internal-error", "Internal server error"),
    503: ("service-unavailable", "Service unavailable"),
}


def problem_body(
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    request_id: str | None = None,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    default_slug, default_title = _STATUS_SLUGS.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or default_slug),
        "title": title or default_title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    return body


def problem_response(status: int, *, headers: dict[str, str] | None = None, **kwargs: Any) -> JSONResponse:
    return JSONResponse(
        problem_body(status, **kwargs), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def request_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def _validation_params(exc: RequestValidationError) -> list[dict[str, str]]:
    params: list[dict[str, str]] = []
    for error in exc.errors()[:50]:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        params.append({"name": ".".join(loc) or "body", "reason": str(error.get("msg", "invalid"))[:200]})
    return params


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AppError):  # pragma: no cover - registered for AppError only
        raise exc
    return problem_response(
        exc.status,
        slug=exc.slug_override or exc.slug,
        title=exc.title,
        detail=exc.detail,
        request_id=request_id_of(request),
        headers=exc.headers,
        extra=exc.extra,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        raise exc
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code < 500 else None
    default_title = _STATUS_SLUGS.get(exc.status_code, ("", None))[1]
    if detail is not None and default_title is not None and detail.lower() == default_title.lower():
        detail = None
    return problem_response(
        exc.status_code, detail=detail, request_id=request_id_of(request), headers=dict(exc.headers or {})
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    return problem_response(
        422,
        detail="One or more fields are invalid.",
        request_id=request_id_of(request),
        extra={"invalid_params": _validation_params(exc)},
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", exc_type=type(exc).__name__, exc_info=exc)
    return problem_response(500, request_id=request_id_of(request))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)


# OpenAPI: every route declares these problem responses (the Flutter client is generated from it).
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": Problem,
            "description": _STATUS_SLUGS.get(status, ("", "Error"))[1],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
