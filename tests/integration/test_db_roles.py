"""The application role in PostgreSQL (SR-7.2, SR-1.2): the API suite runs as it; it holds exactly
the grant table and cannot run DDL, read ungranted tables, rewrite the audit log or make roles."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests import support
from torrent_streamer.core import dbroles, migrate

pytestmark = pytest.mark.skipif(support.TEST_DB != "postgres", reason="PostgreSQL roles (TS_TEST_DB=postgres)")

ROOT = Path(__file__).resolve().parents[2]
INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
async def app_connection(clean_db: str) -> AsyncIterator[AsyncConnection]:
    engine = support.engine_for(clean_db)
    try:
        async with engine.connect() as connection:
            # autocommit: each refused statement fails alone (and CREATE DATABASE needs it)
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        await engine.dispose()


@pytest.fixture
async def owner_connection(clean_db: str) -> AsyncIterator[AsyncConnection]:
    """An administrator connection that has become the owner role (SET ROLE)."""
    engine = support.engine_for(support.admin_url(clean_db))
    try:
        async with engine.connect() as connection:
            owner = await connection.scalar(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'"))
            await connection.execute(text(f"SET ROLE {dbroles.quote_ident(str(owner))}"))
            yield connection
    finally:
        await engine.dispose()


async def refused(connection: AsyncConnection, statement: str) -> str:
    """Run a statement that must be refused; return the SQLSTATE."""
    try:
        await connection.execute(text(statement))
    except DBAPIError as exc:
        return str(getattr(exc.orig, "sqlstate", ""))
    raise AssertionError(f"the application role was allowed: {statement}")


async def test_the_suite_connects_as_the_app_role_not_the_owner(app_connection: AsyncConnection) -> None:
    user = await app_connection.scalar(text("SELECT current_user"))
    owner = await app_connection.scalar(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'"))
    assert user.startswith("ts_app_")
    assert owner.startswith("ts_owner_")


async def test_the_app_role_is_not_a_superuser_and_cannot_create_roles_or_databases(
    app_connection: AsyncConnection,
) -> None:
    row = (
        await app_connection.execute(
            text(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit"
                " FROM pg_roles WHERE rolname = current_user"
            )
        )
    ).one()
    assert tuple(row) == (False, False, False, False, False, False)
    name = f"intruder_{secrets.token_hex(3)}"
    assert await refused(app_connection, f"CREATE ROLE {name}") == INSUFFICIENT_PRIVILEGE
    assert await refused(app_connection, f"CREATE DATABASE {name}") == INSUFFICIENT_PRIVILEGE


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE public.intruder (id int)",
        "CREATE SCHEMA intruder",
        "DROP TABLE audit_events",
        "ALTER TABLE audit_events ADD COLUMN intruder int",
        "CREATE INDEX intruder ON audit_events (action)",
        "COMMENT ON TABLE audit_events IS 'intruder'",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
        "CREATE TEMPORARY TABLE intruder (id int)",
    ],
)
async def test_the_app_role_cannot_run_ddl(app_connection: AsyncConnection, statement: str) -> None:
    assert await refused(app_connection, statement) == INSUFFICIENT_PRIVILEGE


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'rewritten'",
        "UPDATE audit_events SET created_at = now()",
        "UPDATE signing_keys SET private_key_enc = 'x'",
        "DELETE FROM signing_keys",
        "UPDATE refresh_tokens SET token_hash = '\\x00'",
        "DELETE FROM auth_sessions",
        "TRUNCATE audit_events",
        "UPDATE alembic_version SET version_num = 'x'",
    ],
)
async def test_append_only_and_owner_only_tables_refuse_the_app_role(
    app_connection: AsyncConnection, statement: str
) -> None:
    assert await refused(app_connection, statement) == INSUFFICIENT_PRIVILEGE


async def column_updates(connection: AsyncConnection) -> dict[str, set[str]]:
    rows = await connection.execute(
        text(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid,"
            " aclexplode(a.attacl) acl WHERE acl.privilege_type = 'UPDATE'"
            " AND acl.grantee = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
    )
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


async def test_the_database_holds_exactly_the_grant_table(app_connection: AsyncConnection) -> None:
    rows = await app_connection.execute(
        text(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee = current_user AND table_schema = 'public'"
        )
    )
    granted: dict[str, set[str]] = {}
    for table, privilege in rows:
        granted.setdefault(table, set()).add(privilege)
    expected = {name: set(entry.privileges) for name, entry in dbroles.APP_GRANTS.items() if entry.privileges}
    tables = set(await app_connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
    assert granted == {name: privileges for name, privileges in expected.items() if name in tables}
    expected_columns = {name: set(e.update_columns) for name, e in dbroles.APP_GRANTS.items() if e.update_columns}
    assert await column_updates(app_connection) == {n: c for n, c in expected_columns.items() if n in tables}


async def test_a_table_without_a_grant_is_unreadable_and_blocks_granting(
    app_connection: AsyncConnection, owner_connection: AsyncConnection, clean_db: str
) -> None:
    await owner_connection.execute(text("CREATE TABLE scratch_secrets (value text)"))
    await owner_connection.commit()
    try:
        assert await refused(app_connection, "SELECT * FROM scratch_secrets") == INSUFFICIENT_PRIVILEGE
        app_role = make_url(clean_db).username
        assert app_role is not None
        # apply_grants as the owner refuses while a table has no decided grant
        with pytest.raises(dbroles.UngrantedTablesError, match="scratch_secrets"):
            dbroles.grant_statements(
                await owner_connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")),
                dbroles.quote_ident(app_role),
            )
    finally:
        await owner_connection.execute(text("DROP TABLE scratch_secrets"))
        await owner_connection.commit()


async def test_the_app_role_can_append_to_and_read_the_audit_log(app_connection: AsyncConnection) -> None:
    await app_connection.execute(
        text(
            "INSERT INTO audit_events (id, created_at, action, outcome, details)"
            " VALUES (gen_random_uuid(), now(), 'test.event', 'success', '{}')"
        )
    )
    assert await app_connection.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'test.event'")) == 1


async def test_the_app_role_may_only_blank_personal_columns_of_the_audit_log(app_connection: AsyncConnection) -> None:
    await app_connection.execute(
        text(
            "INSERT INTO audit_events (id, created_at, action, outcome, ip, user_agent, details)"
            " VALUES (gen_random_uuid(), now(), 'test.erase', 'success', '203.0.113.1', 'ua', '{}')"
        )
    )
    await app_connection.execute(
        text("UPDATE audit_events SET ip = NULL, user_agent = NULL WHERE action = 'test.erase'")
    )
    assert await app_connection.scalar(text("SELECT count(*) FROM audit_events WHERE ip IS NULL")) >= 1


async def test_the_app_role_may_delete_only_audit_rows_past_the_minimum_retention(
    app_connection: AsyncConnection,
) -> None:
    """Retention (`prune`) needs DELETE; row-level security keeps the last 30 days out of its reach."""
    await app_connection.execute(
        text(
            "INSERT INTO audit_events (id, created_at, action, outcome, details) VALUES"
            " (gen_random_uuid(), now() - interval '40 days', 'test.old', 'success', '{}'),"
            " (gen_random_uuid(), now() - interval '29 days', 'test.recent', 'success', '{}')"
        )
    )
    result = await app_connection.execute(text("DELETE FROM audit_events WHERE action LIKE 'test.%'"))
    assert result.rowcount == 1
    remaining = set(await app_connection.scalars(text("SELECT action FROM audit_events WHERE action LIKE 'test.%'")))
    assert remaining == {"test.recent"}


def test_the_psql_scripts_provision_and_grant_like_the_command(tmp_path: Path) -> None:
    suffix = f"{support.RUN_ID}_{secrets.token_hex(3)}"
    spec = dbroles.RoleSpec(
        database=f"ts_psql_{suffix}", owner_role=f"ts_powner_{suffix}", app_role=f"ts_papp_{suffix}"
    )
    owner_password = tmp_path / "owner"
    owner_password.write_text(secrets.token_urlsafe(24))
    app_password = tmp_path / "app"
    app_password.write_text(secrets.token_urlsafe(24))
    admin = make_url(support.PG_ADMIN_DSN)
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(admin.host), "-p", str(admin.port or 5432)]
    try:
        subprocess.run(
            [
                *psql,
                "-U",
                str(admin.username),
                "-v",
                f"database={spec.database}",
                "-v",
                f"owner_role={spec.owner_role}",
                "-v",
                f"app_role={spec.app_role}",
                "-v",
                f"owner_password_file={owner_password}",
                "-v",
                f"app_password_file={app_password}",
                "-f",
                str(ROOT / "deploy/postgres/provision.sql"),
                str(admin.database),
            ],
            check=True,
            capture_output=True,
            env={"PGPASSWORD": admin.password or "", "PATH": "/usr/bin:/bin"},
        )
        owner_url = support.pg_role_url(spec.database, spec.owner_role, owner_password.read_text())
        migrate.upgrade(owner_url)
        subprocess.run(
            [
                *psql,
                "-U",
                spec.owner_role,
                "-v",
                f"app_role={spec.app_role}",
                "-f",
                str(ROOT / "deploy/postgres/grants.sql"),
                spec.database,
            ],
            check=True,
            capture_output=True,
            env={"PGPASSWORD": owner_password.read_text(), "PATH": "/usr/bin:/bin"},
        )
        app_url = support.pg_role_url(spec.database, spec.app_role, app_password.read_text())
        assert support.run(privileges_of(app_url)) == {
            name: set(entry.privileges) for name, entry in dbroles.APP_GRANTS.items() if entry.privileges
        }
    finally:
        support.pg_drop_run_database(support.PgRunDatabase(spec, owner_url="", app_url=""))


async def privileges_of(url: str) -> dict[str, set[str]]:
    engine = support.engine_for(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
                    " WHERE grantee = current_user AND table_schema = 'public'"
                )
            )
            granted: dict[str, set[str]] = {}
            for table, privilege in rows:
                granted.setdefault(table, set()).add(privilege)
            return granted
    finally:
        await engine.dispose()


def test_the_db_commands_provision_migrate_and_grant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from torrent_streamer.core.dbcli import db_app

    suffix = f"{support.RUN_ID}_{secrets.token_hex(3)}"
    spec = dbroles.RoleSpec(database=f"ts_cli_{suffix}", owner_role=f"ts_cowner_{suffix}", app_role=f"ts_capp_{suffix}")
    owner_password, app_password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    (tmp_path / "admin_url").write_text(support.pg_url(make_url(support.PG_ADMIN_DSN).database or "postgres"))
    monkeypatch.setenv("TS_DB_ADMIN_URL_FILE", str(tmp_path / "admin_url"))
    monkeypatch.setenv("TS_DB_OWNER_PASSWORD", owner_password)
    monkeypatch.setenv("TS_DB_APP_PASSWORD", app_password)
    runner = CliRunner()
    try:
        names = ["--database", spec.database, "--owner-role", spec.owner_role, "--app-role", spec.app_role]
        provisioned = runner.invoke(db_app, ["provision", *names])
        assert provisioned.exit_code == 0, provisioned.output
        again = runner.invoke(db_app, ["provision", *names])  # idempotent
        assert again.exit_code == 0, again.output

        owner_url = support.pg_role_url(spec.database, spec.owner_role, owner_password)
        monkeypatch.setenv("TS_DATABASE_URL", owner_url)
        upgraded = runner.invoke(db_app, ["upgrade", "--app-role", spec.app_role])
        assert upgraded.exit_code == 0, upgraded.output
        app_url = support.pg_role_url(spec.database, spec.app_role, app_password)
        assert support.run(privileges_of(app_url)) == {
            name: set(entry.privileges) for name, entry in dbroles.APP_GRANTS.items() if entry.privileges
        }

        support.run(
            support.pg_admin_execute_in(
                spec.database, f'CREATE TABLE scratch (id int); ALTER TABLE scratch OWNER TO "{spec.owner_role}"'
            )
        )
        refused = runner.invoke(db_app, ["grant", "--app-role", spec.app_role])
        assert refused.exit_code == 1
        assert "scratch" in refused.output
    finally:
        support.pg_drop_run_database(support.PgRunDatabase(spec, owner_url="", app_url=""))


def test_provisioning_refuses_short_passwords_and_odd_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from torrent_streamer.core.dbcli import db_app

    monkeypatch.setenv("TS_DB_ADMIN_URL", support.pg_url("postgres"))
    monkeypatch.setenv("TS_DB_OWNER_PASSWORD", "short")
    monkeypatch.setenv("TS_DB_APP_PASSWORD", "short")
    runner = CliRunner()
    short = runner.invoke(db_app, ["provision", "--database", "ts_never_created"])
    assert short.exit_code == 2
    assert "at least 16" in short.output
    odd = runner.invoke(db_app, ["provision", "--app-role", 'x"; DROP ROLE postgres; --'])
    assert odd.exit_code == 2
    assert "identifier" in odd.output
