"""A scripted passive scan of the running service (the rules of an OWASP ZAP baseline scan).

ZAP is not installable from this machine's registries, so these rules run here instead
(SR-9.3): security headers, cookie flags, error leakage, CORS, methods, server banners.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.verification.service import ServiceProcess

# Paths every deployment serves; domains add theirs as they land.
SCAN_PATHS = ["/healthz", "/readyz", "/api/v1/openapi.json", "/api/v1/does-not-exist", "/nope", "/api/v1/docs"]
LEAK_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"traceback \(most recent call last\)",
        r"\bFile \"/",
        r"sqlalchemy\.",
        r"asyncpg\.",
        r"psycopg",
        r"\buvicorn/\d",
        r"python/\d\.\d",
        r"/site-packages/",
        r"SELECT .* FROM ",
    )
]
REQUIRED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def service(service_factory: Callable[..., ServiceProcess]) -> ServiceProcess:
    return service_factory()


def scan_response(response: httpx.Response) -> list[str]:
    findings: list[str] = []
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    for name, value in REQUIRED_HEADERS.items():
        if response.headers.get(name) != value:
            findings.append(f"{where}: header {name} is {response.headers.get(name)!r}")
    csp = response.headers.get("content-security-policy", "")
    if "frame-ancestors 'none'" not in csp or "unsafe-inline" in csp or "unsafe-eval" in csp:
        findings.append(f"{where}: weak CSP {csp!r}")
    for banner in ("server", "x-powered-by", "x-aspnet-version"):
        if banner in response.headers:
            findings.append(f"{where}: banner header {banner}: {response.headers[banner]}")
    for cookie in response.headers.get_list("set-cookie"):
        lowered = cookie.lower()
        if "httponly" not in lowered or "secure" not in lowered or "samesite" not in lowered:
            findings.append(f"{where}: cookie without HttpOnly/Secure/SameSite: {cookie.split('=')[0]}")
    if response.headers.get("access-control-allow-origin") in ("*", "https://evil.example"):
        findings.append(f"{where}: CORS allows {response.headers['access-control-allow-origin']}")
    if response.status_code >= 400:
        for pattern in LEAK_PATTERNS:
            if pattern.search(response.text):
                findings.append(f"{where}: error body leaks {pattern.pattern}")
        if not response.headers.get("content-type", "").startswith("application/problem+json"):
            findings.append(f"{where}: error is not problem+json")
    return findings


def test_passive_scan_finds_nothing(service: ServiceProcess) -> None:
    findings: list[str] = []
    with httpx.Client(base_url=service.base_url, timeout=10) as client:
        for path in SCAN_PATHS:
            response = client.get(path, headers={"origin": "https://evil.example"})
            findings += scan_response(response)
        for method in ("TRACE", "PUT", "DELETE"):
            findings += scan_response(client.request(method, "/healthz"))
        oversized = client.get("/healthz", headers={"x-big": "a" * 20000})
        if oversized.status_code < 400:
            findings.append("oversized header block accepted")
        bad_host = client.get("/healthz", headers={"host": "evil.example"})
        findings += scan_response(bad_host)
        if bad_host.status_code != 400:
            findings.append("unknown Host accepted")
    assert findings == []
