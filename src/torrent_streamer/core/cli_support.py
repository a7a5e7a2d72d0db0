"""What every CLI command shares: settings loaded from the environment, or a one-line exit."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from torrent_streamer.core.config import ConfigurationError, Settings, check_production
from torrent_streamer.core.secrets import ensure_dev_secrets

console = Console(stderr=True, soft_wrap=True)  # a refusal stays one line at any width


def refuse(reason: str, code: int = 2) -> NoReturn:
    """Exit with ``reason`` on exactly one line, whatever the terminal width (no Rich wrapping)."""
    console.print(" ".join(reason.split()), style="red", soft_wrap=True, markup=False, highlight=False)
    raise typer.Exit(code)


def load_settings_or_exit() -> Settings:
    """The environment's settings (dev secrets filled in), or exit 2 with the reason on one line."""
    try:
        settings = Settings()
        check_production(settings)
    except ConfigurationError as exc:
        refuse(str(exc))
    except ValueError as exc:  # pydantic validation of the environment
        refuse(f"invalid configuration: {_validation_summary(exc)}")
    return ensure_dev_secrets(settings)


def _validation_summary(exc: ValueError) -> str:
    """pydantic's first error as ``field: message`` (its text spans several lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return ": ".join(lines[1:3]) if len(lines) >= 3 else (lines[0] if lines else "invalid value")
