"""Database round trips of the calls a user waits on before the first byte (issue 15): adding a magnet,
asking for its stream URL, the first Range request. Counted as SQL statements the app sends
(``before_cursor_execute``; BEGIN and COMMIT are not statements here), so a lookup that creeps back
fails the test, whatever the machine's speed. The limit's own rule under every count: a magnet whose
metadata came late still holds its slot."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests import support
from tests.integration import torrents_support as ts
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.engine.memory import build_torrent

# Each bound names its statements; the principal's session check (auth) is the first of every call.
ADD_NEW = 6  # auth; lock + block check (all hashes); torrent upsert + the user's entry and counts; entry; source; audit
ADD_AGAIN = 5  # as ADD_NEW without the entry
STREAM_URL = 3  # auth; the entry with its torrent and the takedown check; last-watched touched (once a minute)
FIRST_RANGE = 0  # the stream-URL call made the token's checks and left them to the fast path
RANGE_AFTER_GRANT = 2  # once the grant expired: the token's session; the entry with the takedown check
GIVE_UP = 120.0


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app) as http:
        yield http


_COUNTING: ContextVar[bool] = ContextVar("counting", default=False)


class Statements:
    """The SQL statements a request runs, as text (shown when a bound is exceeded). Only those of
    the request: tasks started with the app (the cluster's metadata store, …) run outside ``of``."""

    def __init__(self, app: FastAPI) -> None:
        self.seen: list[str] = []
        self._engine = app.state.services.db_engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if _COUNTING.get():
            self.seen.append(" ".join(statement.split())[:120])

    async def of(self, request: Awaitable[httpx.Response]) -> tuple[httpx.Response, list[str]]:
        self.seen = []
        token = _COUNTING.set(True)
        try:
            response = await request
        finally:
            _COUNTING.reset(token)
        return response, self.seen

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._record)


def v1_hash(torrent: bytes) -> str:
    return hashlib.sha1(torrent[torrent.index(b"4:info") + 6 : -1]).hexdigest()  # noqa: S324 - BitTorrent v1


def magnet(info_hash: str) -> dict[str, str]:
    return {"magnet": f"magnet:?xt=urn:btih:{info_hash}&dn=Movie"}


async def test_add_stream_url_and_first_range_stay_within_their_round_trips(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock
) -> None:
    media = ts.seed_media(ts.engine_of(app))
    user = await ts.login(client)
    statements = Statements(app)
    try:
        add = client.post("/api/v1/torrents", headers=user.headers, json=magnet(v1_hash(media.torrent)))
        added, seen = await statements.of(add)
        assert added.status_code == 201, added.text
        assert 0 < len(seen) <= ADD_NEW, seen

        stream = client.post(f"/api/v1/torrents/{added.json()['id']}/files/0/stream", headers=user.headers)
        url, seen = await statements.of(stream)
        assert url.status_code == 200, url.text
        assert 0 < len(seen) <= STREAM_URL, seen

        path = urlsplit(url.json()["url"]).path
        first, seen = await statements.of(client.get(path, headers={"Range": "bytes=0-99"}))
        assert first.status_code == 206
        assert first.content == media.files["movie.mp4"][:100]
        assert len(seen) == FIRST_RANGE, seen

        clock.advance(seconds=app.state.services.settings.stream_grant_ttl_seconds)
        later, seen = await statements.of(client.get(path, headers={"Range": "bytes=100-199"}))
        assert later.status_code == 206
        assert later.content == media.files["movie.mp4"][100:200]
        assert 0 < len(seen) <= RANGE_AFTER_GRANT, seen

        add = client.post("/api/v1/torrents", headers=user.headers, json=magnet(v1_hash(media.torrent)))
        again, seen = await statements.of(add)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == added.json()["id"]
        assert 0 < len(seen) <= ADD_AGAIN, seen
    finally:
        statements.close()


async def test_a_magnet_whose_metadata_came_late_holds_its_slot(settings_factory: Any, clock: FrozenClock) -> None:
    """The upsert's counts call it dead (no size recorded, older than the give-up time); the engine
    has its metadata, so it is live and the library is full."""
    settings = settings_factory(engine_max_active_torrents_per_user=1, library_metadata_give_up_seconds=GIVE_UP)
    app = create_app(settings, clock=clock)
    async with support.client_for(app) as client:
        engine = ts.engine_of(app)
        late = build_torrent("Late", [("late.mp4", b"x" * 40_000)])  # not seeded: its magnet starts without metadata
        user = await ts.login(client)
        first = await client.post("/api/v1/torrents", headers=user.headers, json=magnet(v1_hash(late)))
        assert first.status_code == 201, first.text
        assert first.json()["state"] == "metadata"
        await engine.add_torrent_file(late)  # the metadata arrives; nothing has recorded its size yet
        clock.advance(seconds=GIVE_UP + 1)

        other = build_torrent("Other", [("other.mp4", b"y" * 40_000)])
        refused = await client.post("/api/v1/torrents", headers=user.headers, json=magnet(v1_hash(other)))
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("torrent-limit")
        listing = (await client.get("/api/v1/torrents", headers=user.headers)).json()["items"]
        assert [(i["id"], i["state"], i["total_size"]) for i in listing] == [(first.json()["id"], "seeding", 40_000)]
