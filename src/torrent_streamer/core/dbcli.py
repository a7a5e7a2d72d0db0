"""The ``torrent-streamer db`` commands: provision the PostgreSQL roles, migrate as the owner and
grant the application role exactly the grant table (``core/dbroles.py``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from torrent_streamer.core import dbroles
from torrent_streamer.core import migrate as migrations
from torrent_streamer.core.config import ENV_PREFIX, Settings

db_app = typer.Typer(no_args_is_help=True, help="PostgreSQL roles and grants (least privilege).")
console = Console(stderr=True, soft_wrap=True)  # a refusal stays one line at any width

AppRole = Annotated[str, typer.Option(help="The application role to grant.")]


def env_secret(name: str) -> str:
    """``TS_<NAME>`` or the content of the file named by ``TS_<NAME>_FILE``; exits when unset."""
    variable = f"{ENV_PREFIX}{name}"
    path = os.environ.get(f"{variable}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            console.print(f"[red]cannot read {variable}_FILE: {exc.strerror}[/red]")
            raise typer.Exit(2) from None
    value = os.environ.get(variable, "").strip()
    if not value:
        console.print(f"[red]{variable} (or {variable}_FILE) is not set[/red]")
        raise typer.Exit(2)
    return value


def _owner_url() -> str:
    url = Settings().effective_database_url
    if not url.startswith("postgresql"):
        console.print(f"[red]{ENV_PREFIX}DATABASE_URL must be the OWNER role's PostgreSQL URL[/red]")
        raise typer.Exit(2)
    return url


def _grant(url: str, app_role: str) -> None:
    try:
        tables = asyncio.run(dbroles.apply_grants(url, app_role))
    except dbroles.UngrantedTablesError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]granted {app_role} the grant table on {len(tables)} table(s)[/green]")


@db_app.command()
def provision(
    database: Annotated[str, typer.Option(help="Database to create or take over.")] = "torrent_streamer",
    owner_role: Annotated[str, typer.Option(help="Owner (migration) role.")] = "ts_owner",
    app_role: Annotated[str, typer.Option(help="Application role.")] = "ts_app",
) -> None:
    """As a superuser (TS_DB_ADMIN_URL): create the owner and app roles, database, extensions.

    Passwords come from TS_DB_OWNER_PASSWORD(_FILE) and TS_DB_APP_PASSWORD(_FILE), never argv.
    """
    try:
        spec = dbroles.RoleSpec(database=database, owner_role=owner_role, app_role=app_role)
        asyncio.run(
            dbroles.provision(
                env_secret("DB_ADMIN_URL"),
                spec,
                owner_password=env_secret("DB_OWNER_PASSWORD"),
                app_password=env_secret("DB_APP_PASSWORD"),
            )
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[green]provisioned {database}: owner {owner_role}, application {app_role}[/green]")


@db_app.command()
def grant(app_role: AppRole = "ts_app") -> None:
    """As the owner (TS_DATABASE_URL): grant the app role the grant table, revoking anything else."""
    _grant(_owner_url(), app_role)


@db_app.command()
def upgrade(app_role: AppRole = "ts_app") -> None:
    """As the owner (TS_DATABASE_URL): run the migrations, then apply the grant table."""
    url = _owner_url()
    migrations.upgrade(url)
    _grant(url, app_role)


@db_app.command()
def grants() -> None:
    """Print the grant table: every table, the app role's privileges and why."""
    table = Table("table", "application role", "why")
    for name in sorted(dbroles.APP_GRANTS):
        entry = dbroles.APP_GRANTS[name]
        table.add_row(name, entry.describe() or "-", entry.why)
    Console().print(table)


@db_app.command("render-sql")
def render_sql(
    out_dir: Annotated[Path, typer.Option(help="Where provision.sql and grants.sql go.")] = Path("deploy/postgres"),
) -> None:
    """Write the psql equivalents of provision and grant (for operators without this CLI)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "provision.sql").write_text(dbroles.render_provision_sql(), encoding="utf-8")
    (out_dir / "grants.sql").write_text(dbroles.render_grants_sql(), encoding="utf-8")
    console.print(f"wrote {out_dir / 'provision.sql'} and {out_dir / 'grants.sql'}")
    guide = Path("docs/deployment.md")
    if guide.exists():
        start, end = "<!-- grant-table:start -->\n", "<!-- grant-table:end -->"
        text = guide.read_text(encoding="utf-8")
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        if rest:
            guide.write_text(head + start + dbroles.grant_table_markdown() + end + tail, encoding="utf-8")
            console.print(f"updated the grant table in {guide}")
