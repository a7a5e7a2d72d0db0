"""CLI: create-admin (MFA enrolment printed, required before privileged use), sessions revoke-all,
keys rotate|list|retire (SR-2.11, SR-4.3, SR-10.4)."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import httpx
import jwt
import pytest
from typer.testing import CliRunner, Result

from tests import support
from tests.auth_helpers import login, new_email, register_and_login, services_of, totp_code
from torrent_streamer.cli import app as cli_app
from torrent_streamer.cli import register_domain_commands
from torrent_streamer.core.config import Settings


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    register_domain_commands()
    return {
        "TS_DATABASE_URL": settings.effective_database_url,
        "TS_DATA_DIR": str(tmp_path / "cli-data"),
        "TS_SECRET_KEY": support.TEST_SECRET_KEY,
        "TS_ENCRYPTION_KEYS": support.TEST_ENCRYPTION_KEYS,
    }


async def invoke(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    def run() -> Result:
        return CliRunner().invoke(cli_app, list(args), input=stdin, env=env)

    return await anyio.to_thread.run_sync(run)  # the command runs its own event loop


async def test_create_admin_prints_enrolment_and_mfa_gates_privileges(
    client: httpx.AsyncClient, cli_env: dict[str, str]
) -> None:
    email, password = new_email(), "Adm1n-Strong-Passw0rd#x"
    result = await invoke(cli_env, "create-admin", "--email", email, "--password-stdin", stdin=password + "\n")
    assert result.exit_code == 0, result.output
    secret = re.search(r"secret=([A-Z2-7]+)", result.output)
    assert secret
    assert "MFA must be enabled before privileged use" in result.output
    tokens = await login(client, email, password)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/api/v1/admin/users", headers=headers)).json()["type"].endswith("mfa-required")
    enable = await client.post(
        "/api/v1/auth/mfa/totp/enable", json={"code": totp_code(client, secret.group(1))}, headers=headers
    )
    assert enable.status_code == 200
    assert (await client.get("/api/v1/admin/users", headers=headers)).status_code == 200
    duplicate = await invoke(cli_env, "create-admin", "--email", email, "--password-stdin", stdin=password + "\n")
    assert duplicate.exit_code == 1


async def test_create_admin_refuses_a_weak_password(cli_env: dict[str, str]) -> None:
    result = await invoke(cli_env, "create-admin", "--email", new_email(), "--password-stdin", stdin="password123\n")
    assert result.exit_code == 1
    assert "policy" in result.output


async def test_sessions_revoke_all(client: httpx.AsyncClient, cli_env: dict[str, str]) -> None:
    users = [await register_and_login(client) for _ in range(2)]
    result = await invoke(cli_env, "sessions", "revoke-all")
    assert result.exit_code == 0, result.output
    assert "revoked 2 sessions" in result.output
    for user in users:
        assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 401


async def test_keys_rotate_list_retire(client: httpx.AsyncClient, cli_env: dict[str, str]) -> None:
    user = await register_and_login(client)
    old_kid = (await client.get("/.well-known/jwks.json")).json()["keys"][0]["kid"]
    rotated = await invoke(cli_env, "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    new_kid = rotated.output.split()[-1]
    listed = await invoke(cli_env, "keys", "list")
    assert old_kid in listed.output
    assert new_kid in listed.output
    refused = await invoke(cli_env, "keys", "retire", "no-such-kid")
    assert refused.exit_code == 1
    # "--": a kid is a base64url thumbprint and may begin with "-" (an option to the CLI otherwise)
    retired = await invoke(cli_env, "keys", "retire", "--", old_kid)
    assert retired.exit_code == 0, retired.output
    last = await invoke(cli_env, "keys", "retire", "--", new_kid)
    assert last.exit_code == 1  # never retire the only active key
    runtime = services_of(client).extras["auth"]
    await runtime.keyring.reload()  # each instance reloads within 30 s on its own (docs/auth.md)
    assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 401  # signed by the retired key
    fresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert jwt.get_unverified_header(fresh.json()["access_token"])["kid"] == new_kid
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})
    assert me.status_code == 200
