"""Sets pytest-asyncio's fixture loop scope without touching pyproject (owned by the lead)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    name = "asyncio_default_fixture_loop_scope"
    if not config.getini(name):
        config._inicache[name] = "function"
