"""What every request pays before its endpoint runs (issue 15): no dependency runs in a worker
thread, and the stream route, taken by every Range request, is the first route the app tries."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from tests import support
from torrent_streamer.app import create_app


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _runs_in_a_thread(call: Any) -> bool:
    """FastAPI runs a plain function (or a plain generator) dependency in its thread pool."""
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return False
    method = getattr(call, "__call__", None)  # noqa: B004 - instances with an async __call__ count
    return not (inspect.isclass(type(call)) and inspect.iscoroutinefunction(method))


def test_no_dependency_of_any_route_runs_in_a_worker_thread(tmp_path: Path) -> None:
    app = create_app(support.make_settings(tmp_path / "data"))
    threaded = {
        f"{getattr(call, '__module__', '')}.{getattr(call, '__qualname__', repr(call))}"
        for context in iter_route_contexts(app.routes)
        if (dependant := getattr(context.original_route, "dependant", None)) is not None
        for call in _calls(dependant)
        if _runs_in_a_thread(call)
    }
    assert threaded == set(), "make these `async def` (they never block): a thread round trip per request"


def test_a_range_request_matches_the_first_route_the_app_tries(tmp_path: Path) -> None:
    app = create_app(support.make_settings(tmp_path / "data"))
    scope = {"type": "http", "method": "GET", "path": "/api/v1/stream/" + "a" * 40 + "/" + "t" * 40, "root_path": ""}
    own = {app.openapi_url, app.docs_url}  # FastAPI's own routes, registered before any router
    tried = 0
    for route in app.router.routes:
        if getattr(route, "path", None) in own:
            continue
        tried += 1
        if route.matches(scope)[0] is Match.FULL:
            break
    assert tried == 1
