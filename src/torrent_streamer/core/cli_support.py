"""What every CLI command shares: settings loaded from the environment, or a one-line exit."""

from __future__ import annotations

import typer
from rich.console import Console

from torrent_streamer.core.config import ConfigurationError, Settings, check_production
from torrent_streamer.core.secrets import ensure_dev_secrets

console = Console(stderr=True)


def load_settings_or_exit() -> Settings:
    """The environment's settings (dev secrets filled in), or exit 2 with the reason on one line."""
    try:
        settings = Settings()
        check_production(settings)
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except ValueError as exc:  # pydantic validation of the environment
        console.print(f"[red]invalid configuration: {str(exc).splitlines()[0]}[/red]")
        raise typer.Exit(2) from None
    return ensure_dev_secrets(settings)
