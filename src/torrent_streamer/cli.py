"""The ``torrent-streamer`` command: serve, migrate, version, and each domain's commands."""

from __future__ import annotations

import asyncio
import ctypes
import platform
import ssl
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from torrent_streamer import __version__
from torrent_streamer.core import migrate as migrations
from torrent_streamer.core.cli_support import load_settings_or_exit, refuse
from torrent_streamer.core.config import ConfigurationError, Settings
from torrent_streamer.core.crypto import SecretBox
from torrent_streamer.core.dbcli import db_app
from torrent_streamer.core.logging import configure_logging
from torrent_streamer.core.metrics import Metrics
from torrent_streamer.core.middleware import MAX_HEADER_BYTES
from torrent_streamer.core.state import Services

app = typer.Typer(no_args_is_help=True, add_completion=False, help="torrent-streamer backend service.")
app.add_typer(db_app, name="db")
console = Console(stderr=True, soft_wrap=True)  # a refusal stays one line at any width


def tune_allocator() -> bool:
    """Keep glibc from hoarding freed memory (measured: RSS +149 % → +3 % under load, bench/load.py).

    The first 19 MiB Argon2 buffer freed raises glibc's dynamic mmap threshold to 19 MiB, after
    which every freed block below it (Argon2 buffers, 1 MiB piece copies) stays in the process.
    Pinning the threshold at 128 KiB switches that adjustment off. No-op on other C libraries.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    m_mmap_threshold = -3
    return bool(ctypes.CDLL(None).mallopt(m_mmap_threshold, 128 * 1024))


class TLSConfig(uvicorn.Config):
    """uvicorn config whose TLS context refuses anything older than TLS 1.2 (SR-4.1)."""

    def load(self) -> None:
        super().load()
        if self.ssl is not None:
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_2


def build_server_config(
    api: FastAPI, host: str, port: int, tls_cert: Path | None, tls_key: Path | None
) -> uvicorn.Config:
    return TLSConfig(
        api,
        host=host,
        port=port,
        http="h11",  # bounded header size: oversized headers are refused before buffering
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        loop="uvloop",
        proxy_headers=False,  # the app trusts X-Forwarded-* only from TS_TRUSTED_PROXIES
        server_header=False,
        access_log=False,
        log_config=None,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        timeout_keep_alive=15,
        timeout_graceful_shutdown=10,
    )


def _metrics_config(metrics_registry: Metrics, host: str, port: int) -> uvicorn.Config:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def metrics(request: Request) -> Response:
        return Response(metrics_registry.render(), media_type="text/plain; version=0.0.4")

    return uvicorn.Config(
        Starlette(routes=[Route("/metrics", metrics)]), host=host, port=port, log_config=None, access_log=False
    )


def configured_port(listen_interfaces: str) -> int | None:
    """The port of the first ``host:port`` in libtorrent's ``listen_interfaces``."""
    first = listen_interfaces.split(",", 1)[0].strip()
    _, _, port = first.rpartition(":")
    return int(port) if port.isdigit() else None


def listen_report(configured: int | None, bound: int) -> str:
    if bound <= 0:
        return f"  BitTorrent: [red]not listening[/] (port {configured} could not be bound); outgoing peers only"
    if configured not in (None, 0, bound):
        return f"  BitTorrent: port {configured} is taken, so it listens on port [bold]{bound}[/] instead"
    return f"  BitTorrent: listening on port {bound}"


def bittorrent_banner(engine: object, listen_interfaces: str) -> str | None:
    """The banner line with the port the engine's session really bound (None: not a libtorrent engine)."""
    session = getattr(engine, "session", None)
    listen_port = getattr(session, "listen_port", None)
    if not callable(listen_port):
        return None
    return listen_report(configured_port(listen_interfaces), int(listen_port()))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate (TLS 1.2+ only).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key.")] = None,
    metrics_host: Annotated[str, typer.Option(help="Address of the separate /metrics bind.")] = "127.0.0.1",
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics on this separate port.")] = None,
) -> None:
    """Run the API (the embedded default needs no configuration)."""
    overrides = {}
    if tls_cert and tls_key:
        overrides = {"tls_cert_file": tls_cert, "tls_key_file": tls_key}
    base = load_settings_or_exit()
    settings = base.model_copy(update=overrides) if overrides else base
    configure_logging(settings.log_level, node=settings.node_name)
    tune_allocator()
    if settings.uses_embedded_database:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrations.upgrade(settings.effective_database_url)
    problem = asyncio.run(preflight(settings))
    if problem is not None:
        refuse(f"refusing to start: {problem}")
    tls_cert = tls_cert or settings.tls_cert_file
    tls_key = tls_key or settings.tls_key_file
    from torrent_streamer.app import create_app

    api = create_app(settings)
    config = build_server_config(api, host, port, tls_cert, tls_key)
    scheme = "https" if tls_cert else "http"
    console.print(f"[bold green]torrent-streamer {__version__}[/] listening on {scheme}://{host}:{port}")
    console.print(f"  player: {scheme}://{host}:{port}/app   admin panel: {scheme}://{host}:{port}/admin")
    console.print("  first admin: [bold]torrent-streamer create-admin --email you@example.com[/]")
    servers = [uvicorn.Server(config)]
    if metrics_port is not None:
        servers.append(uvicorn.Server(_metrics_config(api.state.metrics, metrics_host, metrics_port)))

    async def run_all() -> None:
        tasks = [asyncio.ensure_future(server.serve()) for server in servers]
        for _ in range(600):  # up to 60 s for the lifespan (engine start-up) to finish
            if servers[0].started or tasks[0].done():
                break
            await asyncio.sleep(0.1)
        line = bittorrent_banner(api.state.services.extras.get("engine"), settings.engine_listen_interfaces)
        if servers[0].started and line:
            console.print(line)
        await asyncio.gather(*tasks)

    asyncio.run(run_all())


@asynccontextmanager
async def cli_services(settings: Settings) -> AsyncIterator[Services]:
    """The app's services for one command, closed afterwards."""
    from torrent_streamer.app import build_services

    services = build_services(settings)
    try:
        yield services
    finally:
        await services.db_engine.dispose()
        await services.limiter.aclose()
        if services.redis is not None:
            await services.redis.aclose()


async def preflight(settings: Settings) -> str | None:
    """Why ``serve`` must not start (unmigrated database, undecryptable secrets), or None."""
    from torrent_streamer.auth.keyring import stored_secrets_problem
    from torrent_streamer.core.preflight import database_problem

    problem = await database_problem(settings.effective_database_url)
    if problem is not None:
        return problem
    try:
        SecretBox(settings.encryption_keys.get_secret_value() if settings.encryption_keys else "")
    except ValueError as exc:
        return f"TS_ENCRYPTION_KEYS is not usable ({exc}): entries look like kid:base64-32-byte-key, newest first"
    async with cli_services(settings) as services:
        try:
            return await stored_secrets_problem(services.sessionmaker, services.secret_box)
        except (OSError, SQLAlchemyError):
            return None  # the database went away: start anyway, /readyz reports it


@app.command()
def prune() -> None:
    """Delete dead refresh tokens and audit rows older than TS_AUDIT_RETENTION_DAYS (also hourly in serve)."""
    from torrent_streamer.auth.retention import prune_once

    settings = load_settings_or_exit()

    async def run() -> None:
        async with cli_services(settings) as services:
            report = await prune_once(services)
        console.print(f"pruned {report.refresh_tokens} refresh token(s) and {report.audit_events} audit row(s)")

    try:
        asyncio.run(run())
    except SQLAlchemyError as exc:
        refuse(f"prune failed: {type(exc).__name__}: is the database migrated? run `torrent-streamer migrate`")


@app.command()
def migrate(
    check: Annotated[bool, typer.Option("--check", help="Fail when models and migrations differ.")] = False,
) -> None:
    """Apply database migrations (TS_DATABASE_URL, or the embedded SQLite file)."""
    settings = load_settings_or_exit()
    if check:
        migrations.check(settings.effective_database_url)
        console.print("models and migrations agree")
        return
    migrations.upgrade(settings.effective_database_url)
    console.print("[green]database is up to date[/green]")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def register_domain_commands() -> None:
    """Each domain adds its own command group here (auth, catalog …)."""
    from torrent_streamer.auth.cli import register as register_auth
    from torrent_streamer.catalog.cli import app as catalog_app

    register_auth(app)
    app.add_typer(catalog_app, name="catalog")


def main() -> None:
    register_domain_commands()
    try:
        app()
    except ConfigurationError as exc:
        console.print(" ".join(str(exc).split()), style="red", markup=False, highlight=False)
        sys.exit(2)
