"""Unit tests of the engine's pure parsers (no sockets)."""

from tests.engine._asyncio_cfg import pytest_configure

__all__ = ["pytest_configure"]
