"""CSP violation reports: the ``report-uri``/``report-to`` endpoint of the pages' policy (SR-6.2).

Rate-limited per client address, body bounded, each report logged as ``csp_violation`` with a few
short fields; URLs lose their query and long path segments (stream tokens live in paths).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, Request
from starlette.responses import Response

from torrent_streamer.auth.dependencies import public_route
from torrent_streamer.core.clientaddr import client_key
from torrent_streamer.core.deps import ServicesDep, client_ip, enforce_limit
from torrent_streamer.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

log = structlog.get_logger("torrent_streamer.web.csp")

REPORT_PATH = "/csp-report"
REPORT_GROUP = "csp"
# Reporting API (``report-to``, newer browsers) and the older ``report-uri`` (both kept: browsers use one).
REPORTING_ENDPOINTS = f'{REPORT_GROUP}="{REPORT_PATH}"'
REPORT_DIRECTIVES = f"report-uri {REPORT_PATH}; report-to {REPORT_GROUP}"
REPORT_TYPES = ("application/csp-report", "application/reports+json", "application/json")
MAX_REPORTS = 10  # per request: one batch of the Reporting API
_FIELD = 200
_SEGMENT = 32

router = APIRouter(include_in_schema=False)


def redact_url(value: object) -> str | None:
    """Scheme, host and path of a reported URL; no query or fragment, long path segments elided."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return "<unparsable>"
    if not parts.scheme or not parts.netloc:
        return value[:_FIELD] if value.isalpha() else "<other>"  # keywords such as "inline" or "eval"
    path = "/".join(seg if len(seg) <= _SEGMENT else "…" for seg in parts.path.split("/"))
    return f"{parts.scheme}://{parts.netloc}{path}"[:_FIELD]


def _text(value: object) -> str | None:
    return value[:_FIELD] if isinstance(value, str) else None


def summarise(payload: object) -> list[dict[str, Any]]:
    """The reports in a ``report-uri`` body (``{"csp-report": {...}}``) or a Reporting API batch.

    Raises ``ValueError`` when the body is neither.
    """
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        raw = payload["csp-report"]
        reports = [
            {"document": raw.get("document-uri"), "blocked": raw.get("blocked-uri"),
             "directive": raw.get("effective-directive") or raw.get("violated-directive"),
             "disposition": raw.get("disposition"), "source": raw.get("source-file")}
        ]  # fmt: skip
    elif isinstance(payload, list):
        reports = [
            {"document": body.get("documentURL"), "blocked": body.get("blockedURL"),
             "directive": body.get("effectiveDirective"), "disposition": body.get("disposition"),
             "source": body.get("sourceFile")}
            for item in payload[:MAX_REPORTS]
            if isinstance(item, dict) and item.get("type") == "csp-violation"
            and isinstance(body := item.get("body"), dict)
        ]  # fmt: skip
    else:
        raise ValueError("not a CSP report")
    return [
        {"document": redact_url(r["document"]), "blocked": redact_url(r["blocked"]), "directive": _text(r["directive"]),
         "disposition": _text(r["disposition"]), "source": redact_url(r["source"])}
        for r in reports
    ]  # fmt: skip


async def _bounded_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"A CSP report holds at most {limit} bytes.")
    return bytes(body)


@router.post(REPORT_PATH, status_code=204, dependencies=[public_route()])
async def csp_report(request: Request, services: ServicesDep) -> Response:
    """Browsers post violations of the pages' CSP here; they are logged, nothing is stored."""
    ip = client_ip(request)
    await enforce_limit(services, "csp_report", services.settings.csp_report_limit, client_key(services.settings, ip))
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in REPORT_TYPES:
        raise UnsupportedMediaType("CSP reports are application/csp-report or application/reports+json.")
    body = await _bounded_body(request, services.settings.csp_report_max_bytes)
    try:
        reports = summarise(json.loads(body))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not a CSP report.") from None
    for report in reports:
        log.warning("csp_violation", client_ip=ip, **report)
    return Response(status_code=204)
