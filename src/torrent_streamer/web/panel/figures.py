"""The panel's engine figures, counted from the engine's listed torrents (``list_status``), so the dashboard
and the Torrents page say the same number and it agrees with the rows the Torrents page lists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

INACTIVE_STATES = frozenset({"paused", "error"})


class HasState(Protocol):
    @property
    def state(self) -> str: ...


def active_count(torrents: Iterable[HasState]) -> int:
    """Listed torrents not paused and not in error, including those the engine has no status for yet (the
    engine's own ``stats()`` skipped those, so the dashboard once said 9 over a list of 20)."""
    return sum(1 for t in torrents if t.state not in INACTIVE_STATES)
