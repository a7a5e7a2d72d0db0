"""Resource caps on long-lived responses (issue 12, item 6): open streams per user, event streams per user,
and open streams per node; each refusal is 429 with Retry-After and frees up when a response ends."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests import support
from tests.integration import torrents_support as ts
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock


async def _library(client: httpx.AsyncClient, app: FastAPI, user: ts.Authed) -> tuple[str, str]:
    media = ts.seed_media(ts.engine_of(app))
    added = await client.post("/api/v1/torrents", headers=user.headers, files={"torrent": ("m", media.torrent)})
    assert added.status_code == 201, added.text
    minted = await client.post(f"/api/v1/torrents/{added.json()['id']}/files/0/stream", headers=user.headers)
    assert minted.status_code == 200, minted.text
    return added.json()["id"], urlsplit(minted.json()["url"]).path


async def _open(
    app: FastAPI, path: str, headers: dict[str, str] | None = None
) -> tuple[ts.AsgiCall, asyncio.Task[None]]:
    call = ts.AsgiCall(app, path, headers, hold=True)
    task = asyncio.create_task(call.run())
    await asyncio.wait_for(call.body_started.wait(), 10)
    assert call.status == 200
    return call, task


async def _close(call: ts.AsgiCall, task: asyncio.Task[None]) -> None:
    call.leave.set()
    call.release.set()
    await asyncio.wait_for(task, 10)


def _assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"].endswith("too-many-streams")


async def test_open_streams_per_user_are_capped(settings_factory: Any, clock: FrozenClock) -> None:
    app = create_app(settings_factory(), clock=clock)
    async with support.client_for(app) as client:
        user, other = await ts.login(client), await ts.login(client)
        _, url = await _library(client, app, user)
        held = [await _open(app, url) for _ in range(6)]  # the default cap
        _assert_429(await client.get(url, headers={"Range": "bytes=0-9"}))
        assert (await client.head(url)).status_code == 200  # HEAD opens no reader
        _, other_url = await _library(client, app, other)
        assert (await client.get(other_url, headers={"Range": "bytes=0-9"})).status_code == 206
        await _close(*held.pop())
        assert (await client.get(url, headers={"Range": "bytes=0-9"})).status_code == 206
        for call, task in held:
            await _close(call, task)
        assert ts.engine_of(app).stats().readers == 0


async def test_open_streams_per_node_are_capped(settings_factory: Any, clock: FrozenClock) -> None:
    app = create_app(settings_factory(stream_max_readers=2), clock=clock)
    async with support.client_for(app) as client:
        first, second = await ts.login(client), await ts.login(client)
        _, url = await _library(client, app, first)
        held = [await _open(app, url) for _ in range(2)]
        _, other_url = await _library(client, app, second)
        _assert_429(await client.get(other_url))
        for call, task in held:
            await _close(call, task)
        assert (await client.get(other_url, headers={"Range": "bytes=0-9"})).status_code == 206


async def test_event_streams_per_user_are_capped(settings_factory: Any, clock: FrozenClock) -> None:
    app = create_app(settings_factory(), clock=clock)
    async with support.client_for(app) as client:
        user = await ts.login(client)
        torrent_id, _ = await _library(client, app, user)
        path = f"/api/v1/torrents/{torrent_id}/events"
        held = [await _open(app, path, user.headers) for _ in range(4)]  # the default cap
        _assert_429(await client.get(path, headers=user.headers))
        await _close(*held.pop())
        refused_then_allowed = ts.AsgiCall(app, path, user.headers, hold=True)
        task = asyncio.create_task(refused_then_allowed.run())
        await asyncio.wait_for(refused_then_allowed.body_started.wait(), 10)
        assert refused_then_allowed.status == 200
        await _close(refused_then_allowed, task)
        for call, t in held:
            await _close(call, t)


@pytest.mark.parametrize("name", ["stream_max_per_user", "events_max_per_user", "stream_max_readers"])
def test_caps_come_from_settings(settings_factory: Any, name: str) -> None:
    assert getattr(settings_factory(**{name: 3}), name) == 3
