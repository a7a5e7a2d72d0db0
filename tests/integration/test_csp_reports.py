"""The pages' CSP names a report endpoint; the endpoint logs reports, bounds the body and is rate-limited
per client address (SR-6.2)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from tests import support
from torrent_streamer.web.csp import redact_url

TOKEN = "tok_" + "A" * 60
REPORT_URI_BODY = {
    "csp-report": {
        "document-uri": "http://testserver/admin/users?q=secret",
        "blocked-uri": f"https://evil.example/api/v1/stream/{TOKEN}/x.js?k=v",
        "effective-directive": "script-src-elem",
        "violated-directive": "script-src-elem",
        "disposition": "enforce",
    }
}
REPORTING_API_BODY = [
    {"type": "csp-violation", "url": "http://testserver/app", "body": {
        "documentURL": "http://testserver/app", "blockedURL": "inline", "effectiveDirective": "script-src-elem",
        "disposition": "enforce"}},
    {"type": "deprecation", "body": {"id": "x"}},
]  # fmt: skip


@pytest.fixture
async def fresh_ip_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Its own documentation-range /64, so the per-address limit of other tests never interferes."""
    address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
    async with support.client_for(app, client_addr=(address, 40000)) as client:
        yield client


async def test_pages_name_the_report_endpoint(fresh_ip_client: httpx.AsyncClient) -> None:
    for path in ("/app", "/admin/login"):
        response = await fresh_ip_client.get(path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "report-uri /csp-report" in policy
        assert "report-to csp" in policy
        assert response.headers["reporting-endpoints"] == 'csp="/csp-report"'


async def test_reports_are_logged_without_query_strings_or_tokens(fresh_ip_client: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        legacy = await fresh_ip_client.post(
            "/csp-report", content=json.dumps(REPORT_URI_BODY), headers={"content-type": "application/csp-report"}
        )
        batch = await fresh_ip_client.post(
            "/csp-report", content=json.dumps(REPORTING_API_BODY), headers={"content-type": "application/reports+json"}
        )
    assert legacy.status_code == batch.status_code == 204
    violations = [entry for entry in logs if entry["event"] == "csp_violation"]
    assert len(violations) == 2  # the deprecation report of the batch is not a CSP violation
    first, second = violations
    assert first["document"] == "http://testserver/admin/users"
    assert first["blocked"] == "https://evil.example/api/v1/stream/…/x.js"
    assert first["directive"] == "script-src-elem"
    assert second["blocked"] == "inline"
    assert TOKEN not in json.dumps(logs)
    assert "secret" not in json.dumps(logs)


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/csp-report", b"{" + b" " * 9000 + b"}", 413),
        ("text/plain", json.dumps(REPORT_URI_BODY).encode(), 415),
        ("application/csp-report", b"not json", 400),
        ("application/csp-report", b'{"something": "else"}', 400),
        ("application/reports+json", b"\xff\xfe", 400),
    ],
)
async def test_bad_reports_get_a_clear_4xx_and_log_nothing(
    fresh_ip_client: httpx.AsyncClient, content_type: str, body: bytes, status: int
) -> None:
    with capture_logs() as logs:
        response = await fresh_ip_client.post("/csp-report", content=body, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert not [entry for entry in logs if entry["event"] == "csp_violation"]


async def test_the_report_endpoint_is_rate_limited_per_address(fresh_ip_client: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/csp-report"}
    body = json.dumps(REPORT_URI_BODY)
    statuses = [
        (await fresh_ip_client.post("/csp-report", content=body, headers=headers)).status_code for _ in range(31)
    ]
    assert statuses == [204] * 30 + [429]
    limited = await fresh_ip_client.post("/csp-report", content=body, headers=headers)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0


def test_reported_urls_lose_queries_and_long_segments() -> None:
    assert redact_url("https://h.example/a/b?c=d#e") == "https://h.example/a/b"
    assert redact_url("eval") == "eval"
    assert redact_url("data:text/html,<script>") == "<other>"
    assert redact_url(None) is None
    assert redact_url("http://[::1") == "<unparsable>"
