"""Resource caps on long-lived responses (issue 12, item 6): open streams per user, event streams per user,
and engine readers per node (ffmpeg's included); each refusal is 429 with Retry-After and frees up when a
response (or an ffmpeg run) ends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests import support
from tests.integration import torrents_support as ts
from tests.media.clips import make_clips
from tests.media.test_decision import CHROME_UA
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.torrents.limits import stream_caps


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


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_clips(tmp_path_factory.mktemp("clips"))


@pytest.mark.slow
async def test_ffmpeg_readers_count_against_the_node_cap(
    settings_factory: Any, clock: FrozenClock, clips: dict[str, Path]
) -> None:
    settings = settings_factory(stream_max_readers=1, media_ffmpeg_path=None)
    app = create_app(settings, clock=clock)
    names = ["faststart.mp4", "h264-ac3.mkv"]
    async with support.client_for(app, timeout=120.0) as client:
        user, engine = await ts.login(client), ts.engine_of(app)
        torrent = engine.seed("Clips", [(name, clips[name].read_bytes()) for name in names])
        added = await client.post("/api/v1/torrents", headers=user.headers, files={"torrent": ("c", torrent)})
        assert added.status_code == 201, added.text
        files = f"/api/v1/torrents/{added.json()['id']}/files"
        played = await client.post(f"{files}/1/playback", headers={**user.headers, "User-Agent": CHROME_UA})
        assert played.status_code == 200, played.text
        assert played.json()["mode"] == "remux"  # an HLS remux: segments made by ffmpeg from an engine reader
        segment = urlsplit(played.json()["url"]).path.replace("master.m3u8", "0.m4s")
        raw = await client.post(f"{files}/0/stream", headers=user.headers)
        held = await _open(app, urlsplit(raw.json()["url"]).path)  # the node's one reader
        _assert_429(await client.get(segment))  # ffmpeg would need a second one
        await _close(*held)
        made = await client.get(segment)
        assert made.status_code == 200, made.text
        assert made.headers["content-type"] == "video/mp4"
    caps = stream_caps(app.state.services)
    assert caps.open_total == 0  # every slot given back once: none leaked, none twice
    assert engine.stats().readers == 0


@pytest.mark.parametrize("name", ["stream_max_per_user", "events_max_per_user", "stream_max_readers"])
def test_caps_come_from_settings(settings_factory: Any, name: str) -> None:
    assert getattr(settings_factory(**{name: 3}), name) == 3
