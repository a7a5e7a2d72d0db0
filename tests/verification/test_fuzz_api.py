"""Schemathesis against the live OpenAPI schema of the running service (SR-9.3).

Every operation, authenticated as a user: no 5xx, every response conforms to the schema
(status codes, content types, bodies). CI runs a bounded number of examples; a larger run:
``TS_FUZZ_EXAMPLES=500 make test -- tests/verification/test_fuzz_api.py``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.verification.service import ServiceProcess

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("TS_FUZZ_EXAMPLES", "25"))
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)


def user_token(base_url: str) -> str:
    email = f"fuzz-{secrets.token_hex(5)}@example.test"
    password = f"Fz7!{secrets.token_urlsafe(12)}-Qp"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 201
        response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def run_schemathesis(service: ServiceProcess, token: str, report_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{service.base_url}/api/v1/openapi.json",
        "--checks", CHECKS,
        "--max-examples", str(EXAMPLES),
        "--header", f"Authorization: Bearer {token}",
        "--seed", os.environ.get("TS_FUZZ_SEED", "20261128"),
        "--request-timeout", "20",
        "--workers", "1",
        "--suppress-health-check", "all",
        "--report", "junit",
        "--report-dir", str(report_dir),
        "--exclude-path-regex", r"^/api/v1/(me$|auth/logout-all$|auth/password$)",
    ]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"}
    return subprocess.run(command, capture_output=True, text=True, timeout=1800, env=env, check=False)


def test_fuzz_every_operation_as_a_user(service_factory: Callable[..., ServiceProcess], tmp_path: Path) -> None:
    # Rate limits stay on: a 429 is a declared, valid answer, not a failure.
    service = service_factory("fuzz")
    result = run_schemathesis(service, user_token(service.base_url), tmp_path / "report")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "No issues found" in output or "passed" in output.lower(), output[-3000:]
