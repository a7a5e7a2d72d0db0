"""PostgreSQL least privilege (SR-7.2): an owner role runs migrations and owns the tables, an
application role gets exactly the table privileges listed, with the reason, in ``APP_GRANTS``.

``provision`` (as a superuser) creates the roles, hands the database and schema to the owner and
creates the extensions; ``apply_grants`` (as the owner, after every migration) grants the table.
A table in the database without an entry refuses to be granted: each new table is a decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
EXTENSIONS = ("pg_trgm",)  # catalog trigram search; created by the superuser at provisioning
SCHEMA = "public"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def quote_ident(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain lower-case identifier: {name!r}")
    return f'"{name}"'


def quote_literal(value: str) -> str:
    """A standard-conforming string literal (the session sets standard_conforming_strings)."""
    if "\x00" in value:
        raise ValueError("NUL in a literal")
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class TableGrant:
    """What the application role may do on one table, and why it needs it.

    ``update_columns`` grants UPDATE on those columns only (the rest of the row stays immutable).
    """

    privileges: tuple[str, ...]
    why: str
    update_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.privileges) - set(TABLE_PRIVILEGES)
        if unknown:
            raise ValueError(f"unknown privileges {sorted(unknown)}")
        if not self.why.strip():
            raise ValueError("every grant needs its reason")
        if self.update_columns and "UPDATE" in self.privileges:
            raise ValueError("UPDATE is granted either on the table or on listed columns, not both")
        for column in self.update_columns:
            quote_ident(column)

    def describe(self) -> str:
        parts = list(self.privileges)
        if self.update_columns:
            parts.append(f"UPDATE ({', '.join(self.update_columns)})")
        return ", ".join(parts)


def grant(*privileges: str, why: str, update_columns: tuple[str, ...] = ()) -> TableGrant:
    ordered = tuple(p for p in TABLE_PRIVILEGES if p in privileges)
    return TableGrant(ordered, why, update_columns)


# The grant table. No TRUNCATE, REFERENCES or TRIGGER anywhere; DELETE only where a row truly
# has to disappear (an UPDATE that marks it revoked/used/retired serves everywhere else).
# ON DELETE CASCADE children need no DELETE grant: PostgreSQL runs referential actions as the
# table owner.
APP_GRANTS: dict[str, TableGrant] = {
    "alembic_version": grant(
        "SELECT",
        why="schema version: written by migrations (owner) only; `serve` reads it to refuse an unmigrated database",
    ),
    "audit_events": grant(
        "SELECT",
        "INSERT",
        "DELETE",
        update_columns=("ip", "user_agent"),
        why="append-only audit log: record_event inserts, the admin audit view and export read; account "
        "deletion may only blank IP and user agent (personal data), never action, actor, target or time; "
        "DELETE only for retention (`prune`), and row-level security (migration 0007) limits it to rows "
        "older than 30 days",
    ),
    # accounts (auth/, users/)
    "users": grant(
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        why="registration inserts; profile, password, role, disable and MFA changes update; account "
        "deletion (SR-4.5) deletes the row, its sessions and codes follow by ON DELETE CASCADE",
    ),
    "signing_keys": grant(
        "SELECT",
        "INSERT",
        update_columns=("retired_at",),
        why="JWT key ring: the first key at start-up and `keys rotate` insert, `keys retire` sets retired_at; "
        "key material is never rewritten and keys are never deleted (old tokens must stay verifiable until retired)",
    ),
    "auth_sessions": grant(
        "SELECT",
        "INSERT",
        "UPDATE",
        why="refresh families: sign-in inserts, refresh updates last use and idle expiry, logout/revoke sets "
        "revoked_at; revocation is an UPDATE, so no DELETE",
    ),
    "refresh_tokens": grant(
        "SELECT",
        "INSERT",
        "DELETE",
        update_columns=("used_at", "used_by"),
        why="refresh tokens (SHA-256 only): each rotation inserts one and marks the old one used, by which "
        "client (reuse detection needs the used rows of live families); the hash is never rewritten; "
        "retention (`prune`) deletes the tokens of revoked or expired families",
    ),
    "mfa_recovery_codes": grant(
        "SELECT",
        "INSERT",
        "DELETE",
        update_columns=("used_at",),
        why="one-time recovery codes: enabling MFA inserts, a use marks used_at, regenerating or disabling "
        "MFA deletes the old set (a replaced secret must not linger)",
    ),
    "used_token_ids": grant(
        "SELECT",
        "INSERT",
        "DELETE",
        why="spent single-use token ids: insert refuses a second use, expired ids are purged (DELETE), "
        "so the table stays bounded",
    ),
    "login_throttle": grant(
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        why="sign-in back-off per account key: failures upsert (INSERT … ON CONFLICT UPDATE), a lock "
        "updates, a successful sign-in deletes the row",
    ),
    "catalog_entries": grant(
        "SELECT",
        "INSERT",
        "UPDATE",
        why="catalog: search reads, submissions and imports insert/upsert, moderation updates the status "
        "(a removed entry stays as 'removed'; never DELETE)",
    ),
    "catalog_works": grant(
        "SELECT",
        "INSERT",
        "UPDATE",
        why="works (grouped releases): created when a release of a new work arrives, their release count, "
        "health and best release refreshed on moderation, import and scraping; never deleted",
    ),
    "catalog_reports": grant(
        "SELECT",
        "INSERT",
        update_columns=("resolved_at",),
        why="user reports: filed (INSERT), listed, resolved by moderation (resolved_at only: who reported "
        "what and why is never rewritten); no DELETE",
    ),
    "indexers": grant(
        "SELECT",
        "INSERT",
        "DELETE",
        why="Torznab indexers: read per search, added by admins; DELETE so a removed indexer's encrypted key is gone",
    ),
    "torrents": grant(
        "SELECT",
        "INSERT",
        "DELETE",
        update_columns=("name", "total_size", "last_watched_at"),
        why="one row per info-hash: added on first add, name/size filled in when metadata arrives, "
        "last-watched touched; deleted when nobody holds it (evicted). info_hash and node never change",
    ),
    "torrent_sources": grant(
        "SELECT",
        "INSERT",
        update_columns=("metainfo", "updated_at"),
        why="cluster: how any node re-adds a torrent (magnet at add, .torrent once metadata is known); "
        "rows go by ON DELETE CASCADE with their torrent, so no DELETE",
    ),
    "library_entries": grant(
        "SELECT",
        "INSERT",
        "DELETE",
        update_columns=("added_at",),
        why="users add torrents to and remove them from their library; added_at restarts when a dead magnet "
        "is retried (its metadata wait starts again); user and torrent never change",
    ),
    "watch_history": grant(
        "SELECT",
        "INSERT",
        update_columns=("position_seconds", "duration_seconds", "updated_at"),
        why="resume positions: inserted, then the position moved by the player; rows go only by ON DELETE "
        "CASCADE with their library entry or user, so no DELETE",
    ),
    "blocked_info_hashes": grant(
        "SELECT", "INSERT", "DELETE", why="takedown list: admins add and lift entries; adds/streams check it"
    ),
    "panel_sessions": grant(
        "SELECT",
        "INSERT",
        "DELETE",
        update_columns=("token_hash", "enrolling", "last_seen_at", "reauthenticated_at"),
        why="admin panel sessions: created at sign-in, touched per request (last_seen_at), the cookie "
        "rotated when MFA enrolment completes (token_hash, enrolling), stamped by a fresh password + TOTP "
        "re-authentication (reauthenticated_at); owner, family and the absolute "
        "expiry never change; deleted at sign-out or expiry",
    ),
}


@dataclass(frozen=True)
class RoleSpec:
    """The database and the two roles to provision (names are plain lower-case identifiers)."""

    database: str
    owner_role: str
    app_role: str

    def __post_init__(self) -> None:
        for name in (self.database, self.owner_role, self.app_role):
            quote_ident(name)
        if self.owner_role == self.app_role:
            raise ValueError("the owner and application roles must differ")


class UngrantedTablesError(RuntimeError):
    """Tables exist that the grant table does not mention: decide their grants first."""


OWNER_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
APP_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"


def role_statement(role_sql: str, attributes: str, password_sql: str, *, exists: bool) -> str:
    verb = "ALTER" if exists else "CREATE"
    return f"{verb} ROLE {role_sql} WITH {attributes} PASSWORD {password_sql}"


def database_statements(database_sql: str, owner_sql: str, app_sql: str) -> list[str]:
    """Run as the superuser connected to the target database (after the roles exist)."""
    return [
        f"ALTER DATABASE {database_sql} OWNER TO {owner_sql}",
        f"REVOKE ALL ON DATABASE {database_sql} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {database_sql} TO {app_sql}",
        f"REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC",
        f"ALTER SCHEMA {SCHEMA} OWNER TO {owner_sql}",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {app_sql}",
        *(f"CREATE EXTENSION IF NOT EXISTS {name} SCHEMA {SCHEMA}" for name in EXTENSIONS),
    ]


def grant_statements(tables: Iterable[str], app_sql: str, quote: Callable[[str], str] = quote_ident) -> list[str]:
    """Revoke everything, then grant exactly the table's privileges (run as the table owner)."""
    tables = sorted(tables)
    ungranted = [name for name in tables if name not in APP_GRANTS]
    if ungranted:
        raise UngrantedTablesError(
            f"no grant decided for table(s) {', '.join(ungranted)}: add them to APP_GRANTS in core/dbroles.py"
        )
    statements = [f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {SCHEMA} FROM {app_sql}"]
    for name in tables:
        table = f"{SCHEMA}.{quote(name)}"
        statements.append(f"REVOKE ALL ON TABLE {table} FROM PUBLIC, {app_sql}")
        entry = APP_GRANTS[name]
        if entry.privileges:
            statements.append(f"GRANT {', '.join(entry.privileges)} ON TABLE {table} TO {app_sql}")
        if entry.update_columns:
            columns = ", ".join(quote(column) for column in entry.update_columns)
            statements.append(f"GRANT UPDATE ({columns}) ON TABLE {table} TO {app_sql}")
    return statements


def grant_table_markdown() -> str:
    """The grant table as the Markdown table in docs/deployment.md."""
    rows = ["| table | app role | why |", "|---|---|---|"]
    for name in sorted(APP_GRANTS):
        entry = APP_GRANTS[name]
        rows.append(f"| `{name}` | {entry.describe() or '—'} | {entry.why} |")
    return "\n".join(rows) + "\n"


def render_provision_sql() -> str:
    """The psql script equivalent of ``provision`` (committed as deploy/postgres/provision.sql)."""
    owner, app, database = ':"owner_role"', ':"app_role"', ':"database"'
    lines = [
        "-- Generated by `torrent-streamer db render-sql` from core/dbroles.py; do not edit by hand.",
        "-- Run as a superuser on a fresh cluster; passwords are read from files, never argv:",
        "--   psql -v ON_ERROR_STOP=1 -v database=torrent_streamer -v owner_role=ts_owner -v app_role=ts_app \\",
        "--        -v owner_password_file=/run/secrets/ts_owner_password \\",
        "--        -v app_password_file=/run/secrets/ts_app_password -f provision.sql postgres",
        "\\set owner_password `cat :owner_password_file`",
        "\\set app_password `cat :app_password_file`",
        "SET standard_conforming_strings = on;",
        role_statement(owner, OWNER_ATTRIBUTES, ":'owner_password'", exists=False) + ";",
        role_statement(app, APP_ATTRIBUTES, ":'app_password'", exists=False) + ";",
        f"CREATE DATABASE {database} OWNER {owner};",
        f"\\connect {database}",
        *(statement + ";" for statement in database_statements(database, owner, app)),
    ]
    return "\n".join(lines) + "\n"


def render_grants_sql() -> str:
    """The grant table as a psql script, run as the owner after migrations (deploy/postgres/grants.sql)."""
    lines = [
        "-- Generated by `torrent-streamer db render-sql` from core/dbroles.py; do not edit by hand.",
        "-- Run as the OWNER role after every migration: psql -v ON_ERROR_STOP=1 -v app_role=ts_app -f grants.sql",
    ]
    for name in sorted(APP_GRANTS):
        lines.append(f"-- {name}: {APP_GRANTS[name].describe() or 'nothing'} - {APP_GRANTS[name].why}")
    lines.append("BEGIN;")
    lines.extend(statement + ";" for statement in grant_statements(APP_GRANTS, ':"app_role"'))
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def _autocommit_engine(url: str, database: str | None = None, *, autocommit: bool = True) -> AsyncEngine:
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError("role provisioning is for PostgreSQL only")
    parsed = parsed.set(drivername="postgresql+asyncpg")
    if autocommit:  # CREATE DATABASE and friends cannot run inside a transaction
        return create_async_engine(parsed, isolation_level="AUTOCOMMIT")
    return create_async_engine(parsed)


async def provision(admin_url: str, spec: RoleSpec, *, owner_password: str, app_password: str) -> None:
    """Create or update the roles and hand the database to the owner (idempotent; superuser)."""
    if len(owner_password) < 16 or len(app_password) < 16:
        raise ValueError("role passwords must be at least 16 characters")
    owner, app, database = (quote_ident(n) for n in (spec.owner_role, spec.app_role, spec.database))
    cluster = _autocommit_engine(admin_url)
    try:
        async with cluster.connect() as connection:
            await connection.execute(text("SET standard_conforming_strings = on"))
            for role, attributes, password in (
                (spec.owner_role, OWNER_ATTRIBUTES, owner_password),
                (spec.app_role, APP_ATTRIBUTES, app_password),
            ):
                found = await connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
                statement = role_statement(quote_ident(role), attributes, quote_literal(password), exists=bool(found))
                await connection.execute(text(statement))
            found = await connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": spec.database})
            if not found:
                await connection.execute(text(f"CREATE DATABASE {database} OWNER {owner}"))
    finally:
        await cluster.dispose()
    target = _autocommit_engine(admin_url, spec.database)
    try:
        async with target.connect() as connection:
            for statement in database_statements(database, owner, app):
                await connection.execute(text(statement))
    finally:
        await target.dispose()


async def existing_tables(connection_url: str) -> list[str]:
    engine = _autocommit_engine(connection_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": SCHEMA}
            )
            return sorted(str(row[0]) for row in rows)
    finally:
        await engine.dispose()


async def apply_grants(owner_url: str, app_role: str) -> list[str]:
    """Grant the table to the app role on every existing table, in one transaction; return the tables."""
    app = quote_ident(app_role)
    tables = await existing_tables(owner_url)
    statements = grant_statements(tables, app)
    engine = _autocommit_engine(owner_url, autocommit=False)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()
    return tables
