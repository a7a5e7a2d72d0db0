"""The stream fast path: a token's database checks are reused for a few seconds, then re-run, so a
revoked session, a removed entry or a takedown still stop its URL (SR-5.6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests import support
from tests.integration import torrents_support as ts
from tests.integration.test_stream_api import Setup
from torrent_streamer.core.clock import FrozenClock

TTL = 5.0  # stream_grant_ttl_seconds default


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app) as http:
        yield http


@pytest.fixture
async def setup(client: httpx.AsyncClient, app: FastAPI) -> Setup:
    return await Setup(client, app).start()


class Statements:
    """Counts SQL statements the app runs."""

    def __init__(self, app: FastAPI) -> None:
        self.count = 0
        self._engine = app.state.services.db_engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


async def test_range_requests_reuse_the_tokens_checks(setup: Setup, app: FastAPI, clock: FrozenClock) -> None:
    url = await setup.url()
    assert (await setup.get(url, Range="bytes=0-1")).status_code == 206  # checks run and are kept
    statements = Statements(app)
    try:
        for start in (0, 1000, 5000):
            response = await setup.get(url, Range=f"bytes={start}-{start + 99}")
            assert response.content == setup.movie[start : start + 100]
        assert statements.count == 0
        clock.advance(seconds=TTL)
        assert (await setup.get(url, Range="bytes=0-1")).status_code == 206
        assert statements.count > 0  # the grant expired: checked again
    finally:
        statements.close()


async def test_revoked_session_stops_a_used_url(setup: Setup, clock: FrozenClock) -> None:
    url = await setup.url()
    assert (await setup.get(url, Range="bytes=0-1")).status_code == 206
    await ts.revoke_session(setup.client, setup.user)
    clock.advance(seconds=TTL)
    response = await setup.get(url, Range="bytes=0-1")
    assert response.status_code == 401
    assert response.json()["type"].endswith("stream-session-revoked")


async def test_removed_entry_stops_a_used_url(setup: Setup, clock: FrozenClock) -> None:
    other = await ts.login(setup.client)  # keeps the torrent in the engine
    await setup.client.post("/api/v1/torrents", headers=other.headers, files={"torrent": ("m", setup.media.torrent)})
    url = await setup.url()
    assert (await setup.get(url, Range="bytes=0-1")).status_code == 206
    deleted = await setup.client.delete(f"/api/v1/torrents/{setup.torrent_id}", headers=setup.user.headers)
    assert deleted.status_code == 204
    clock.advance(seconds=TTL)
    response = await setup.get(url, Range="bytes=0-1")
    assert response.status_code == 403
    assert response.json()["type"].endswith("stream-forbidden")


async def test_takedown_stops_a_used_url_at_once(setup: Setup) -> None:
    admin = await ts.login(setup.client, role="admin")
    url = await setup.url()
    assert (await setup.get(url, Range="bytes=0-1")).status_code == 206
    info_hash = (await setup.client.get(f"/api/v1/torrents/{setup.torrent_id}", headers=setup.user.headers)).json()[
        "info_hash"
    ]
    blocked = await setup.client.post(
        "/api/v1/admin/blocked", headers=admin.headers, json={"info_hash": info_hash, "reason": "DMCA"}
    )
    assert blocked.status_code == 201
    response = await setup.get(url, Range="bytes=0-1")  # the takedown dropped it from the engine
    assert response.status_code == 451


async def test_revoking_in_this_process_stops_a_used_url_at_once(setup: Setup) -> None:
    url = await setup.url()
    assert (await setup.get(url, Range="bytes=0-1")).status_code == 206  # a grant is cached
    await ts.revoke_session(setup.client, setup.user)
    response = await setup.get(url, Range="bytes=0-1")  # no clock advance: the revocation ended the grant
    assert response.status_code == 401
    assert response.json()["type"].endswith("stream-session-revoked")


async def test_removing_the_entry_in_this_process_stops_a_used_url_at_once(setup: Setup) -> None:
    other = await ts.login(setup.client)  # keeps the torrent in the engine
    await setup.client.post("/api/v1/torrents", headers=other.headers, files={"torrent": ("m", setup.media.torrent)})
    url = await setup.url()
    assert (await setup.get(url, Range="bytes=0-1")).status_code == 206
    deleted = await setup.client.delete(f"/api/v1/torrents/{setup.torrent_id}", headers=setup.user.headers)
    assert deleted.status_code == 204
    response = await setup.get(url, Range="bytes=0-1")
    assert response.status_code == 403
    assert response.json()["type"].endswith("stream-forbidden")


async def test_a_minted_url_needs_no_database_for_its_first_request(setup: Setup, app: FastAPI) -> None:
    url = await setup.url()  # the stream-URL call checked what the first Range request would
    statements = Statements(app)
    try:
        response = await setup.get(url, Range="bytes=0-99")
        assert response.content == setup.movie[:100]
        assert statements.count == 0
    finally:
        statements.close()
