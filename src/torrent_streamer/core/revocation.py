"""A process-wide revocation count: bumped whenever a login session is revoked or a library entry
removed in this process, so caches of access decisions (the stream grants) can tell their checks
went stale without knowing what changed.

Coarse on purpose: any revocation makes every cached decision re-check once, which costs a query,
never a wrong answer. Other processes learn of it only when their cache entries expire.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_count = 0


def bump() -> None:
    """Something was revoked: decisions cached before now must be checked again."""
    global _count
    with _lock:
        _count += 1


def current() -> int:
    return _count
