"""Torrent library API on the MemoryEngine: add (magnet, upload), list, show, delete, limits,
takedowns, history, events (SR-3.5 input, SR-2.10 permissions, per-user limit on PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import libtorrent as lt
import pytest
from fastapi import FastAPI

from tests import support
from tests.auth_helpers import register_and_login
from tests.integration import torrents_support as ts
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.torrents import endpoints as torrent_endpoints


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app) as http:
        yield http


def upload(data: bytes, name: str = "x.torrent") -> dict[str, Any]:
    return {"files": {"torrent": (name, data, "application/x-bittorrent")}}


async def add(client: httpx.AsyncClient, user: ts.Authed, torrent: bytes) -> httpx.Response:
    return await client.post("/api/v1/torrents", headers=user.headers, **upload(torrent))


async def test_upload_lists_files_with_subtitle_links(client: httpx.AsyncClient, app: FastAPI) -> None:
    media = ts.seed_media(ts.engine_of(app))
    user = await ts.login(client)
    response = await add(client, user, media.torrent)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "seeding"
    assert body["total_size"] == sum(len(d) for d in media.files.values())
    files = {f["name"].rsplit("/", 1)[-1]: f for f in body["files"]}
    assert files["movie.mp4"]["mime"] == "video/mp4"
    assert files["movie.mp4"]["streamable"] is True
    assert files["movie.mp4"]["subtitle_url"] is None
    assert (
        files["movie.srt"]["subtitle_url"]
        == f"/api/v1/torrents/{body['id']}/files/{files['movie.srt']['index']}/subtitles.vtt"
    )
    assert set(body) >= {"id", "info_hash", "progress", "peers", "download_rate", "readers", "start_estimate_seconds"}

    again = await add(client, user, media.torrent)  # idempotent per user
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    listing = (await client.get("/api/v1/torrents", headers=user.headers)).json()["items"]
    assert [item["id"] for item in listing] == [body["id"]]
    shown = await client.get(f"/api/v1/torrents/{body['id']}", headers=user.headers)
    assert shown.json()["files"] == body["files"]


async def test_magnet_of_a_known_torrent(client: httpx.AsyncClient, app: FastAPI) -> None:
    media = ts.seed_media(ts.engine_of(app))
    info_hash = hashlib.sha1(media.torrent[media.torrent.index(b"4:info") + 6 : -1]).hexdigest()  # noqa: S324 - BitTorrent v1
    user = await ts.login(client)
    response = await client.post(
        "/api/v1/torrents", headers=user.headers, json={"magnet": f"magnet:?xt=urn:btih:{info_hash}&dn=Movie"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["info_hash"] == info_hash


@pytest.mark.parametrize(
    ("kwargs", "status", "slug"),
    [
        ({"json": {"magnet": "magnet:?xt=urn:btih:nothex0000000000000000000000000000000000"}}, 422, "invalid-magnet"),
        ({"json": {"magnet": "magnet:?xt=urn:btih:" + "a" * 40, "extra": 1}}, 422, "validation-error"),
        ({"content": b"magnet", "headers": {"content-type": "text/plain"}}, 415, "unsupported-media-type"),
        (upload(b"d4:infod4:name3:abcee"), 422, "invalid-torrent"),
        (upload(b"l" * 200 + b"e" * 200), 422, "invalid-torrent"),  # deep nesting
    ],
)
async def test_bad_input_is_refused_cleanly(
    client: httpx.AsyncClient, kwargs: dict[str, Any], status: int, slug: str
) -> None:
    user = await ts.login(client)
    headers = {**user.headers, **kwargs.pop("headers", {})}
    response = await client.post("/api/v1/torrents", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["type"].endswith(slug)
    assert (await client.get("/api/v1/torrents", headers=user.headers)).json()["items"] == []


async def test_oversized_upload_refused(settings_factory: Any, clock: FrozenClock) -> None:
    app = create_app(settings_factory(max_upload_bytes=2048), clock=clock)
    async with support.client_for(app) as client:
        user = await ts.login(client)
        response = await client.post("/api/v1/torrents", headers=user.headers, **upload(b"d" + b"0" * 4000 + b"e"))
        assert response.status_code == 413


async def test_anonymous_and_other_users(client: httpx.AsyncClient, app: FastAPI) -> None:
    media = ts.seed_media(ts.engine_of(app))
    owner, other = await ts.login(client), await ts.login(client)
    torrent_id = (await add(client, owner, media.torrent)).json()["id"]
    assert (await client.get("/api/v1/torrents")).status_code == 401
    for method, path in [
        ("GET", f"/api/v1/torrents/{torrent_id}"),
        ("DELETE", f"/api/v1/torrents/{torrent_id}"),
        ("POST", f"/api/v1/torrents/{torrent_id}/files/0/stream"),
        ("GET", f"/api/v1/torrents/{torrent_id}/files/1/subtitles.vtt"),
        ("GET", f"/api/v1/torrents/{torrent_id}/events"),
    ]:
        response = await client.request(method, path, headers=other.headers)
        assert response.status_code == 404, (method, path)
    put = await client.put(f"/api/v1/me/history/{torrent_id}/0", headers=other.headers, json={"position_seconds": 1.0})
    assert put.status_code == 404
    assert (await client.get(f"/api/v1/torrents/{torrent_id}", headers=owner.headers)).status_code == 200


async def test_shared_info_hash_removed_from_engine_with_its_last_holder(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    engine = ts.engine_of(app)
    media = ts.seed_media(engine)
    first, second = await ts.login(client), await ts.login(client)
    a = (await add(client, first, media.torrent)).json()
    b = (await add(client, second, media.torrent)).json()
    assert a["info_hash"] == b["info_hash"]
    assert a["id"] != b["id"]
    assert engine.stats().active_torrents == 1  # one copy for both users
    assert (await client.delete(f"/api/v1/torrents/{a['id']}", headers=first.headers)).status_code == 204
    assert engine.stats().active_torrents == 1
    assert (await client.get(f"/api/v1/torrents/{a['id']}", headers=first.headers)).status_code == 404
    assert (await client.delete(f"/api/v1/torrents/{b['id']}", headers=second.headers)).status_code == 204
    assert engine.stats().active_torrents == 0


async def test_per_user_limit_holds_under_concurrency(settings_factory: Any, clock: FrozenClock) -> None:
    app = create_app(settings_factory(engine_max_active_torrents_per_user=2), clock=clock)
    async with support.client_for(app) as client:
        engine = ts.engine_of(app)
        torrents = [ts.seed_media(engine, name=f"Movie {i}", seed=i).torrent for i in range(6)]
        user = await ts.login(client)
        responses = await asyncio.gather(*(add(client, user, t) for t in torrents))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 201, 409, 409, 409, 409], [r.text for r in responses]
        assert len((await client.get("/api/v1/torrents", headers=user.headers)).json()["items"]) == 2
        assert engine.stats().active_torrents == 2  # refused adds left nothing behind


async def test_takedown_blocks_adding_and_streaming(client: httpx.AsyncClient, app: FastAPI) -> None:
    media = ts.seed_media(ts.engine_of(app))
    admin, user = await ts.login(client, role="admin"), await ts.login(client)
    added = (await add(client, user, media.torrent)).json()
    assert (await client.get("/api/v1/admin/blocked", headers=user.headers)).status_code == 403
    assert (await client.get("/api/v1/admin/torrents", headers=user.headers)).status_code == 403
    everything = (await client.get("/api/v1/admin/torrents", headers=admin.headers)).json()["items"]
    assert [(t["info_hash"], t["holders"], t["state"]) for t in everything] == [(added["info_hash"], 1, "seeding")]
    blocked = await client.post(
        "/api/v1/admin/blocked", headers=admin.headers, json={"info_hash": added["info_hash"].upper(), "reason": "DMCA"}
    )
    assert blocked.status_code == 201, blocked.text
    assert blocked.json()["info_hash"] == added["info_hash"]
    again = await client.post(
        "/api/v1/admin/blocked", headers=admin.headers, json={"info_hash": added["info_hash"], "reason": "DMCA"}
    )
    assert again.status_code == 409
    refused = await add(client, await ts.login(client), media.torrent)
    assert refused.status_code == 451
    stream = await client.post(f"/api/v1/torrents/{added['id']}/files/0/stream", headers=user.headers)
    assert stream.status_code == 451
    listing = (await client.get("/api/v1/admin/blocked", headers=admin.headers)).json()["items"]
    assert [item["info_hash"] for item in listing] == [added["info_hash"]]
    lifted = await client.delete(f"/api/v1/admin/blocked/{listing[0]['id']}", headers=admin.headers)
    assert lifted.status_code == 204
    assert (await add(client, await ts.login(client), media.torrent)).status_code == 201


async def test_history_round_trip(client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock) -> None:
    media = ts.seed_media(ts.engine_of(app))
    user = await ts.login(client)
    torrent_id = (await add(client, user, media.torrent)).json()["id"]
    path = f"/api/v1/me/history/{torrent_id}/0"
    first = await client.put(path, headers=user.headers, json={"position_seconds": 12.5, "duration_seconds": 5400.0})
    assert first.status_code == 200, first.text
    clock.advance(minutes=5)
    second = await client.put(path, headers=user.headers, json={"position_seconds": 99.0})
    assert second.json()["position_seconds"] == 99.0
    assert second.json()["updated_at"] > first.json()["updated_at"]
    assert (
        await client.put(f"/api/v1/me/history/{torrent_id}/9", headers=user.headers, json={"position_seconds": 1.0})
    ).status_code == 404
    bad = await client.put(path, headers=user.headers, json={"position_seconds": -1})
    assert bad.status_code == 422
    items = (await client.get("/api/v1/me/history", headers=user.headers)).json()["items"]
    assert len(items) == 1
    assert items[0]["torrent_id"] == torrent_id
    assert items[0]["position_seconds"] == 99.0
    other = await ts.login(client)
    assert (await client.get("/api/v1/me/history", headers=other.headers)).json()["items"] == []


async def test_events_stream_status(client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torrent_endpoints, "EVENTS_MAX", 2)
    monkeypatch.setattr(torrent_endpoints, "EVENTS_INTERVAL_SECONDS", 0.0)
    media = ts.seed_media(ts.engine_of(app))
    user = await ts.login(client)
    torrent_id = (await add(client, user, media.torrent)).json()["id"]
    response = await client.get(f"/api/v1/torrents/{torrent_id}/events", headers=user.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b.startswith("event: status")]
    assert len(blocks) == 2
    assert '"state":"seeding"' in blocks[0]
    assert '"progress":1.0' in blocks[0]


async def test_engine_in_readiness(client: httpx.AsyncClient) -> None:
    ready = await client.get("/readyz")
    assert ready.json()["checks"]["engine"] == "ok"


@pytest.mark.parametrize(
    "magnet",
    [
        "magnet:?xt=urn:btih:" + "ab" * 20 + "&tr=http%3A%2F%2F127.0.0.1%3A8080%2Fannounce",
        "magnet:?xt=urn:btih:" + "ab" * 20 + "&x.pe=10.0.0.5:6881",
        "magnet:?xt=urn:btih:" + "ab" * 20 + "&ws=http%3A%2F%2F169.254.169.254%2Ffile",
    ],
)
async def test_private_network_addresses_refused_by_default(
    settings_factory: Any, clock: FrozenClock, magnet: str
) -> None:
    app = create_app(settings_factory(engine_allow_private_networks=False), clock=clock)
    async with support.client_for(app) as client:
        user = await ts.login(client)
        response = await client.post("/api/v1/torrents", headers=user.headers, json={"magnet": magnet})
        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith(("blocked-address", "invalid-magnet"))
        assert ts.engine_of(app).stats().active_torrents == 0


async def test_personal_data_export_lists_library_and_history(client: httpx.AsyncClient, app: FastAPI) -> None:
    media = ts.seed_media(ts.engine_of(app))
    user = await ts.login(client)
    torrent_id = (await add(client, user, media.torrent)).json()["id"]
    await client.put(f"/api/v1/me/history/{torrent_id}/0", headers=user.headers, json={"position_seconds": 42.0})
    export = await client.get("/api/v1/me/export", headers=user.headers)
    assert export.status_code == 200, export.text
    body = export.json()
    assert [item["id"] for item in body["library"]] == [torrent_id]
    assert body["watch_history"][0]["position_seconds"] == 42.0


@pytest.mark.parametrize("peer", ["tracker.example.com:6881", "peer.example.org:51413"])
async def test_host_name_peer_hint_is_refused_with_422(client: httpx.AsyncClient, app: FastAPI, peer: str) -> None:
    """Issue 12 item 8: `x.pe` takes IP literals only; a host name is a clear 422 and adds nothing."""
    user = await ts.login(client)
    magnet = f"magnet:?xt=urn:btih:{'cd' * 20}&x.pe={peer}"
    response = await client.post("/api/v1/torrents", headers=user.headers, json={"magnet": magnet})
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("invalid-magnet")
    assert ts.engine_of(app).stats().active_torrents == 0
    assert (await client.get("/api/v1/torrents", headers=user.headers)).json()["items"] == []


async def test_piece_length_over_the_cap_is_a_clear_422(client: httpx.AsyncClient, app: FastAPI) -> None:
    """Issue 12 item 6: a 64 MiB-piece torrent is refused (default `TS_ENGINE_MAX_PIECE_LENGTH` 16 MiB)."""
    info = {b"name": b"Big", b"piece length": 64 * 1024 * 1024, b"pieces": b"x" * 20, b"length": 100}
    user = await ts.login(client)
    response = await add(client, user, bytes(lt.bencode({b"info": info})))
    assert response.status_code == 422, response.text
    assert "piece length over the limit of 16 MiB" in response.json()["detail"]
    assert ts.engine_of(app).stats().active_torrents == 0


@asynccontextmanager
async def _one_user_watching(
    client: httpx.AsyncClient, app: FastAPI
) -> AsyncIterator[tuple[tuple[ts.Authed, str], tuple[ts.Authed, str]]]:
    """Two users hold one torrent; the first has a stream body open (a client that stopped reading)."""
    media = ts.seed_media(ts.engine_of(app))
    watcher, other = await ts.login(client), await ts.login(client)
    mine = (await add(client, watcher, media.torrent)).json()["id"]
    theirs = (await add(client, other, media.torrent)).json()["id"]
    minted = await client.post(f"/api/v1/torrents/{mine}/files/0/stream", headers=watcher.headers)
    call = ts.AsgiCall(app, urlsplit(minted.json()["url"]).path, hold=True)
    task = asyncio.create_task(call.run())
    await asyncio.wait_for(call.body_started.wait(), 10)
    try:
        yield (watcher, mine), (other, theirs)
    finally:
        call.leave.set()
        call.release.set()
        await asyncio.wait_for(task, 10)


async def test_status_shows_only_the_callers_own_readers(client: httpx.AsyncClient, app: FastAPI) -> None:
    """Issue 12 item 11: two users hold one torrent; neither sees where the other is watching."""
    async with _one_user_watching(client, app) as ((watcher, mine), (other, theirs)):
        own = (await client.get(f"/api/v1/torrents/{mine}", headers=watcher.headers)).json()
        assert [r["file_index"] for r in own["readers"]] == [0]
        seen = (await client.get(f"/api/v1/torrents/{theirs}", headers=other.headers)).json()
        assert seen["readers"] == []
        assert seen["start_estimate_seconds"] is None


async def test_events_show_only_the_callers_own_readers(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torrent_endpoints, "EVENTS_MAX", 1)
    async with _one_user_watching(client, app) as ((watcher, mine), (other, theirs)):
        for user, entry, expected in ((watcher, mine, 1), (other, theirs, 0)):
            text = (await client.get(f"/api/v1/torrents/{entry}/events", headers=user.headers)).text
            event = json.loads(next(b for b in text.split("\n\n") if b.startswith("event: status")).split("data: ")[1])
            assert len(event["readers"]) == expected


async def test_account_deletion_releases_its_torrents(client: httpx.AsyncClient, app: FastAPI) -> None:
    """Issue 12 item 11: deleting an account drops the torrents nobody else holds (and their data) from
    the engine; a torrent another user holds stays and still streams."""
    engine = ts.engine_of(app)
    alone, shared = ts.seed_media(engine, "Alone", seed=5), ts.seed_media(engine, "Shared", seed=6)
    leaving = await register_and_login(client)
    leaving_headers = dict(leaving.headers)
    staying = await ts.login(client)
    alone_hash = (await client.post("/api/v1/torrents", headers=leaving_headers, **upload(alone.torrent))).json()[
        "info_hash"
    ]
    assert (await client.post("/api/v1/torrents", headers=leaving_headers, **upload(shared.torrent))).status_code == 201
    kept = (await add(client, staying, shared.torrent)).json()
    assert engine.stats().active_torrents == 2

    deleted = await client.request(
        "DELETE", "/api/v1/me", headers=leaving_headers, json={"current_password": leaving.password}
    )
    assert deleted.status_code == 204, deleted.text
    assert [s.info_hash for s in engine.list_status()] == [kept["info_hash"]]
    assert alone_hash != kept["info_hash"]
    minted = await client.post(f"/api/v1/torrents/{kept['id']}/files/0/stream", headers=staying.headers)
    assert (await client.get(urlsplit(minted.json()["url"]).path)).content == shared.files["movie.mp4"]
