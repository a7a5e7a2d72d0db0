"""/healthz, /readyz (DB and Redis checked) and the protected /metrics (SR-10.3)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest
from pydantic import ValidationError

from tests import support
from torrent_streamer.app import create_app
from torrent_streamer.core.config import Settings


async def test_ready_when_dependencies_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


async def test_not_ready_when_the_database_is_unreachable(settings_factory: Callable[..., Settings]) -> None:
    port = support.free_port()
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none"
    app = create_app(settings_factory(database_url=url))
    async with support.client_for(app) as client:
        response = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "failing"
    assert alive.status_code == 200


async def test_not_ready_when_redis_is_unreachable(settings_factory: Callable[..., Settings]) -> None:
    app = create_app(settings_factory(redis_url=f"redis://127.0.0.1:{support.free_port()}/0"))
    async with support.client_for(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "failing"


async def test_metrics_need_the_token(settings_factory: Callable[..., Settings]) -> None:
    app = create_app(settings_factory(metrics_token="m" * 40))
    async with support.client_for(app) as client:
        await client.get("/healthz")
        await client.get("/api/v1/me")  # a route of an included router: labelled by its full template
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"authorization": "Bearer " + "m" * 40})
    assert anonymous.status_code == 404
    assert wrong.status_code == 404
    assert right.status_code == 200
    assert 'ts_http_requests_total{method="GET",route="/healthz",status="200"}' in right.text
    assert 'ts_http_requests_total{method="GET",route="/api/v1/me",status="401"}' in right.text


async def test_metrics_without_token_only_for_loopback_in_development(settings: Settings) -> None:
    app = create_app(settings)
    async with support.client_for(app, client_addr=("198.51.100.1", 1)) as remote:
        assert (await remote.get("/metrics")).status_code == 404
    async with support.client_for(create_app(settings)) as local:
        assert (await local.get("/metrics")).status_code == 200


async def test_node_name_in_readyz_and_metrics(settings_factory: Callable[..., Settings]) -> None:
    """TS_NODE_NAME identifies the node to the balancer (/readyz) and to Prometheus (ts_node_info)."""
    app = create_app(settings_factory(node_name="node-b.example"))
    async with support.client_for(app) as client:
        ready = await client.get("/readyz")
        metrics = await client.get("/metrics")
    assert ready.json()["node"] == "node-b.example"
    assert 'ts_node_info{node="node-b.example"} 1.0' in metrics.text


def test_node_name_defaults_to_the_host_name_and_is_validated() -> None:
    assert Settings().node_name == socket.gethostname()
    for bad in ("", "a b", "x" * 65, "n/1"):
        with pytest.raises(ValidationError):
            Settings(node_name=bad)
