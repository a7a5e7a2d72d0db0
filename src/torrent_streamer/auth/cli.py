"""CLI of the auth domain: ``create-admin``, ``sessions revoke-all``, ``keys rotate|retire|list``.

Each command opens the database, does its work through the services and commits once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import keyring, mfa, repository
from torrent_streamer.auth.passwords import Passwords, enforce_policy, normalise_email
from torrent_streamer.auth.permissions import Role
from torrent_streamer.core import migrate as migrations
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.clock import Clock
from torrent_streamer.core.config import Settings
from torrent_streamer.core.crypto import SecretBox
from torrent_streamer.core.db import create_engine, create_sessionmaker
from torrent_streamer.core.errors import AppError
from torrent_streamer.users import repository as users_repository
from torrent_streamer.users.models import User

console = Console(stderr=True, soft_wrap=True)  # a refusal stays one line at any width
sessions_app = typer.Typer(no_args_is_help=True, help="Session (refresh-token family) administration.")
keys_app = typer.Typer(no_args_is_help=True, help="The JWT signing key ring.")
T = TypeVar("T")


def _settings() -> Settings:
    from torrent_streamer.core.cli_support import load_settings_or_exit

    return load_settings_or_exit()


def _run(settings: Settings, work: Callable[[AsyncSession, SecretBox], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction (committed once) against the configured database."""
    if settings.uses_embedded_database:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrations.upgrade(settings.effective_database_url)
    if settings.encryption_keys is None:
        raise typer.Exit(2)
    box = SecretBox(settings.encryption_keys.get_secret_value())

    async def main() -> T:
        engine = create_engine(settings.effective_database_url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session:
                result = await work(session, box)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except AppError as exc:
        console.print(f"[red]{exc.detail or exc.title}[/red]")
        raise typer.Exit(1) from None
    except IntegrityError:  # e.g. two key rotations at once: nothing was written
        console.print("[red]a concurrent change won; nothing was changed, run the command again[/red]")
        raise typer.Exit(1) from None


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def create_admin(
    email: Annotated[str, typer.Option(help="The administrator's e-mail address.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create an administrator and print the MFA enrolment URI (MFA is required before admin use)."""
    settings = _settings()
    password = _read_password(password_stdin)
    try:
        clean_email = normalise_email(email)
        enforce_policy(password, email=clean_email)
    except AppError as exc:
        console.print(f"[red]{exc.detail or exc.title}[/red]")
        raise typer.Exit(1) from None

    async def work(session: AsyncSession, box: SecretBox) -> str:
        now = Clock().now()
        if await users_repository.email_taken(session, clean_email):
            raise AppError("a user with this e-mail already exists")
        user = User(
            email=clean_email, password_hash=await Passwords().hash(password), role=Role.admin.value,
            created_at=now, updated_at=now, password_changed_at=now,
        )  # fmt: skip
        session.add(user)
        await session.flush()
        secret = mfa.new_totp_secret()
        user.totp_secret_enc = box.encrypt(secret, context=f"totp:{user.id}")
        record_event(session, now=now, action=AuditAction.ADMIN_CREATED, target_type="user", target_id=str(user.id),
                     details={"via": "cli"})  # fmt: skip
        return mfa.provisioning_uri(secret, clean_email)

    uri = _run(settings, work)
    typer.echo(f"administrator {clean_email} created")
    typer.echo(f"MFA enrolment URI (add it to an authenticator app): {uri}")
    typer.echo(
        "MFA must be enabled before privileged use: sign in, then POST /api/v1/auth/mfa/totp/enable with a code."
    )


@sessions_app.command("revoke-all")
def revoke_all() -> None:
    """Incident response: revoke every session of every user (all refresh tokens die)."""

    async def work(session: AsyncSession, box: SecretBox) -> int:
        now = Clock().now()
        count = await repository.revoke_sessions(session, now=now, reason="incident_revoke_all")
        record_event(session, now=now, action=AuditAction.SESSIONS_REVOKE_ALL, details={"revoked": count, "via": "cli"})
        return count

    typer.echo(f"revoked {_run(_settings(), work)} sessions")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; it signs from now on (other instances pick it up within 30 s)."""

    async def work(session: AsyncSession, box: SecretBox) -> str:
        now = Clock().now()
        key = await keyring.rotate(session, box, now)
        record_event(
            session, now=now, action=AuditAction.SIGNING_KEY_ROTATE, target_type="signing_key", target_id=key.kid
        )
        return key.kid

    typer.echo(f"new signing key {_run(_settings(), work)}")


@keys_app.command("retire")
def keys_retire(kid: Annotated[str, typer.Argument(help="The kid to retire.")]) -> None:
    """Retire a key: tokens it signed stop verifying (at most 15 minutes of access tokens)."""

    async def work(session: AsyncSession, box: SecretBox) -> str:
        now = Clock().now()
        key = await keyring.retire(session, kid, now)
        record_event(
            session, now=now, action=AuditAction.SIGNING_KEY_RETIRE, target_type="signing_key", target_id=key.kid
        )
        return key.kid

    typer.echo(f"retired signing key {_run(_settings(), work)}")


@keys_app.command("list")
def keys_list() -> None:
    """Every key of the ring: kid, created, retired, current."""

    async def work(session: AsyncSession, box: SecretBox) -> list[tuple[str, str, str, bool]]:
        rows = await repository.all_signing_keys(session)
        active = [row for row in rows if row.retired_at is None]
        current = max(active, key=lambda r: r.generation).kid if active else None
        return [
            (
                row.kid,
                row.created_at.isoformat(),
                row.retired_at.isoformat() if row.retired_at else "",
                row.kid == current,
            )
            for row in rows
        ]

    table = Table("kid", "created", "retired", "current")
    for kid, created, retired, current in _run(_settings(), work):
        table.add_row(kid, created, retired, "yes" if current else "")
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("create-admin")(create_admin)
    app.add_typer(sessions_app, name="sessions")
    app.add_typer(keys_app, name="keys")
