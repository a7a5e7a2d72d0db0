"""Two nodes (apps) sharing PostgreSQL and Redis, each with its own MemoryEngine: any node serves
any stream from the stored source, one holder per torrent, status answered on any node.

The cluster tick is driven by hand (``TS_CLUSTER_INTERVAL_SECONDS`` is long) so each step is
observed; the real service, a real swarm and HAProxy are in tests/verification/test_cluster_e2e.py.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from urllib.parse import urlsplit

import httpx
import libtorrent as lt
import pytest
from fastapi import FastAPI

from tests import support
from tests.integration import torrents_support as ts
from torrent_streamer.app import create_app
from torrent_streamer.cluster import repository
from torrent_streamer.cluster.node import ORPHAN_AFTER_TICKS, RELEASE_AFTER_TICKS, ClusterNode, cluster_of
from torrent_streamer.core.config import Settings
from torrent_streamer.engine import MemoryEngine
from torrent_streamer.torrents import endpoints as torrent_endpoints

pytestmark = pytest.mark.skipif(not support.USE_REDIS, reason="the cluster shares leases and status in Redis")


class Node:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client

    @property
    def engine(self) -> MemoryEngine:
        return ts.engine_of(self.app)

    @property
    def cluster(self) -> ClusterNode:
        node = cluster_of(self.app.state.services)
        assert node is not None
        return node

    def holds(self, info_hash: str) -> bool:
        return any(s.info_hash == info_hash for s in self.engine.list_status())


@pytest.fixture
async def nodes(settings_factory: Callable[..., Settings]) -> AsyncIterator[tuple[Node, Node]]:
    prefix = f"ts-test-{support.RUN_ID}-cluster-{secrets.token_hex(3)}"
    async with AsyncExitStack() as stack:
        pair = []
        for name in ("node-a", "node-b"):
            settings = settings_factory(
                node_name=name, cluster_enabled=True, cluster_interval_seconds=60, redis_key_prefix=prefix
            )
            app = create_app(settings)
            client = await stack.enter_async_context(support.client_for(app))
            pair.append(Node(app, client))
        yield pair[0], pair[1]


async def ticks(*nodes: Node, count: int = 1) -> None:
    for _ in range(count):
        for node in nodes:
            await node.cluster.tick()


async def test_any_node_serves_any_stream_and_one_holds_it(
    nodes: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = nodes
    media = ts.seed_media(a.engine)
    ts.seed_media(b.engine)  # the same content, so B's MemoryEngine can serve bytes once it adds it
    user = await ts.login(a.client)
    added = await a.client.post(
        "/api/v1/torrents", headers=user.headers, files={"torrent": ("m.torrent", media.torrent)}
    )
    assert added.status_code == 201, added.text
    torrent_id, info_hash = added.json()["id"], added.json()["info_hash"]
    async with a.app.state.services.sessionmaker() as session:
        source = await repository.get_source(session, info_hash)
    assert source is not None
    assert source.metainfo == media.torrent  # the upload itself: its trackers go with it

    await ticks(a)  # A holds the lease: it is the only node with the torrent
    url = (await a.client.post(f"/api/v1/torrents/{torrent_id}/files/0/stream", headers=user.headers)).json()["url"]
    assert not b.holds(info_hash)

    # the balancer sends the stream to B: B adds it from the stored source at once and serves
    response = await b.client.get(urlsplit(url).path, headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.content == media.files["movie.mp4"][100:200]
    assert b.holds(info_hash)

    await ticks(a, b, count=RELEASE_AFTER_TICKS + 1)
    assert b.holds(info_hash)
    assert not a.holds(info_hash)  # A fetched it for the add, B serves it: A let it go

    # status answers on A from what B published
    detail = await a.client.get(f"/api/v1/torrents/{torrent_id}", headers=user.headers)
    assert detail.status_code == 200
    body = detail.json()
    assert body["state"] == "seeding"
    assert [f["index"] for f in body["files"]] == [0, 1, 2]
    listed = await a.client.get("/api/v1/torrents", headers=user.headers)
    assert listed.json()["items"][0]["state"] == "seeding"

    # ...and so does A's event stream, without A adding the torrent back
    monkeypatch.setattr(torrent_endpoints, "EVENTS_MAX", 1)
    events = await a.client.get(f"/api/v1/torrents/{torrent_id}/events", headers=user.headers)
    assert events.status_code == 200
    status_block = next(b for b in events.text.split("\n\n") if b.startswith("event: status"))
    event = json.loads(status_block.split("data: ", 1)[1])
    assert event["state"] == "seeding"
    assert event["progress"] == 1.0
    assert not a.holds(info_hash)


async def test_a_torrent_removed_through_another_node_leaves_its_holder(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    media = ts.seed_media(a.engine, seed=7)
    ts.seed_media(b.engine, seed=7)
    user = await ts.login(a.client)
    added = await a.client.post(
        "/api/v1/torrents", headers=user.headers, files={"torrent": ("m.torrent", media.torrent)}
    )
    torrent_id, info_hash = added.json()["id"], added.json()["info_hash"]
    url = (await a.client.post(f"/api/v1/torrents/{torrent_id}/files/0/stream", headers=user.headers)).json()["url"]
    assert (await b.client.get(urlsplit(url).path, headers={"Range": "bytes=0-9"})).status_code == 206
    await ticks(a, b, count=RELEASE_AFTER_TICKS + 1)
    assert b.holds(info_hash)
    assert not a.holds(info_hash)
    assert (await a.client.delete(f"/api/v1/torrents/{torrent_id}", headers=user.headers)).status_code == 204
    await ticks(b, count=ORPHAN_AFTER_TICKS - RELEASE_AFTER_TICKS - 1)
    assert b.holds(info_hash)  # not yet: a just-added torrent's row may not be committed
    await ticks(b, count=2)
    assert not b.holds(info_hash)


async def test_metadata_of_a_magnet_is_stored_once_known(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    media = ts.seed_media(a.engine, seed=5)
    user = await ts.login(a.client)
    info_hash = media_hash(media.torrent)
    magnet = f"magnet:?xt=urn:btih:{info_hash}&dn=Movie&x.pe=127.0.0.1:6881"
    added = await a.client.post("/api/v1/torrents", headers=user.headers, json={"magnet": magnet})
    assert added.status_code == 201, added.text
    async with a.app.state.services.sessionmaker() as session:
        before = await repository.get_source(session, info_hash)
    assert before is not None
    assert before.metainfo is None
    assert before.magnet is not None
    assert "x.pe=127.0.0.1:6881" in before.magnet
    await ticks(a)
    async with a.app.state.services.sessionmaker() as session:
        after = await repository.get_source(session, info_hash)
    assert after is not None
    assert after.metainfo == a.engine.metainfo(info_hash)
    # B adds it from the stored .torrent: metadata at once, no fetch
    async with b.app.state.services.sessionmaker() as session:
        from sqlalchemy import select

        from torrent_streamer.torrents import service
        from torrent_streamer.torrents.models import Torrent

        torrent = (await session.execute(select(Torrent).where(Torrent.info_hash == info_hash))).scalar_one()
        status = await service.ensure_in_engine(session, b.engine, torrent)
    assert status.has_metadata
    assert len(status.files) == 3


async def test_a_foreign_or_corrupt_status_in_redis_is_ignored(nodes: tuple[Node, Node]) -> None:
    a, _ = nodes
    redis = a.app.state.services.redis
    key = f"{a.app.state.services.settings.redis_key_prefix}:cluster:status:{'e' * 40}"
    await redis.set(key, b"{not json", px=5000)
    assert await a.cluster.status("e" * 40) is None
    await redis.set(key, b'{"info_hash": "' + b"f" * 40 + b'"}', px=5000)
    assert await a.cluster.status("e" * 40) is None


def media_hash(torrent: bytes) -> str:
    return str(lt.torrent_info(torrent).info_hashes().v1)
