"""Schemathesis against the live OpenAPI schema of the running service (SR-9.3).

Every operation, authenticated as a user, and the admin and catalog operations as an MFA-enrolled
administrator (made by the ``create-admin`` CLI): no 5xx, every response conforms to the schema
(status codes, content types, bodies). CI runs a bounded number of examples; a larger run:
``TS_FUZZ_EXAMPLES=500 make test -- tests/verification/test_fuzz_api.py``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyotp
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


def admin_token(service: ServiceProcess) -> str:
    """An administrator through the public paths: ``create-admin``, sign in, enable TOTP, sign in with a code."""
    email = f"fuzz-admin-{secrets.token_hex(5)}@example.test"
    password = f"Ad9!{secrets.token_urlsafe(12)}-Wm"
    created = service.run_cli("create-admin", "--email", email, "--password-stdin", stdin=f"{password}\n".encode())
    assert created.returncode == 0, created.stderr.decode(errors="replace")
    uri = next(line for line in created.stdout.decode().splitlines() if "otpauth://" in line)
    totp = pyotp.parse_uri(uri[uri.index("otpauth://") :])
    assert isinstance(totp, pyotp.TOTP)
    now = time.time()
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        first = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert first.status_code == 200, first.text
        headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
        # Each TOTP step is accepted once and one step of drift is allowed: enable with this step's
        # code, sign in with the next step's, so neither is a replay and no test waits.
        enabled = client.post("/api/v1/auth/mfa/totp/enable", json={"code": totp.at(now)}, headers=headers)
        assert enabled.status_code == 200, enabled.text
        challenge = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert challenge.status_code == 200, challenge.text
        assert challenge.json()["mfa_required"] is True
        body = {"mfa_token": challenge.json()["mfa_token"], "code": totp.at(now + totp.interval)}
        verified = client.post("/api/v1/auth/mfa/verify", json=body)
        assert verified.status_code == 200, verified.text
        token = str(verified.json()["access_token"])
        # The token carries the admin's privileges: an admin-only route answers.
        assert client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        return token


def run_schemathesis(
    service: ServiceProcess, token: str, report_dir: Path, *selection: str
) -> subprocess.CompletedProcess[str]:
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
        *(selection or ("--exclude-path-regex", r"^/api/v1/(me$|auth/logout-all$|auth/password$)")),
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


def test_fuzz_admin_and_catalog_operations_as_an_admin(
    service_factory: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    # Schemathesis reuses ids it saw in responses, so it finds the admin's own id: revoking one's
    # own sessions (a valid 204) would turn the rest of the run into 401s. That one operation runs
    # last, on its own; the token must still work after the main run, which proves it ran as admin.
    service = service_factory("fuzz-admin")
    token = admin_token(service)
    own_sessions = r"^/api/v1/admin/users/[^/]+/sessions$"
    runs = (
        ("--include-path-regex", r"^/api/v1/(admin|catalog)(/|$)", "--exclude-path-regex", own_sessions),
        ("--include-path-regex", own_sessions),
    )
    for index, selection in enumerate(runs):
        result = run_schemathesis(service, token, tmp_path / f"report-{index}", *selection)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-6000:]
        assert "No issues found" in output or "passed" in output.lower(), output[-3000:]
        if index == 0:
            still = httpx.get(
                f"{service.base_url}/api/v1/admin/users", headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            assert still.status_code == 200, still.text
