"""What the web app relies on underneath (issue 17): stream URLs only for playable files, resume
positions per torrent and file and only for playable files, dead magnets that free their slot and can
be retried, and errors phrased for a person (the problem ``type`` stays for machines)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import support
from tests.integration import torrents_support as ts
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock

GIVE_UP = 120.0


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app) as http:
        yield http


async def add_upload(client: httpx.AsyncClient, user: ts.Authed, torrent: bytes) -> dict[str, Any]:
    files = {"torrent": ("x.torrent", torrent, "application/x-bittorrent")}
    response = await client.post("/api/v1/torrents", headers=user.headers, files=files)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def index_of(body: dict[str, Any], suffix: str) -> int:
    return next(int(f["index"]) for f in body["files"] if f["name"].endswith(suffix))


async def test_stream_urls_only_for_playable_or_subtitle_files(client: httpx.AsyncClient, app: FastAPI) -> None:
    media = ts.seed_media(ts.engine_of(app))
    user = await ts.login(client)
    body = await add_upload(client, user, media.torrent)
    base = f"/api/v1/torrents/{body['id']}/files"
    for name in ("movie.mp4", "movie.srt"):
        assert (await client.post(f"{base}/{index_of(body, name)}/stream", headers=user.headers)).status_code == 200
    text = await client.post(f"{base}/{index_of(body, 'notes.txt')}/stream", headers=user.headers)
    assert text.status_code == 422, text.text
    problem = text.json()
    assert problem["type"].endswith("file-not-playable")
    assert "notes.txt" in problem["detail"]
    assert "cannot be played" in problem["detail"]


async def test_history_is_per_torrent_and_file_and_only_for_playable_files(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock
) -> None:
    engine = ts.engine_of(app)
    first_media, second_media = ts.seed_media(engine, "First", 1), ts.seed_media(engine, "Second", 2)
    user = await ts.login(client)
    first, second = (
        await add_upload(client, user, first_media.torrent),
        await add_upload(client, user, second_media.torrent),
    )
    movie = index_of(first, "movie.mp4")
    for name in ("notes.txt", "movie.srt"):
        refused = await client.put(
            f"/api/v1/me/history/{first['id']}/{index_of(first, name)}",
            headers=user.headers,
            json={"position_seconds": 44.0},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("file-not-playable")
    saved = await client.put(
        f"/api/v1/me/history/{first['id']}/{movie}", headers=user.headers, json={"position_seconds": 44.0}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["file_name"].endswith("movie.mp4")
    clock.advance(seconds=5)
    other = await client.put(
        f"/api/v1/me/history/{second['id']}/{index_of(second, 'movie.mp4')}",
        headers=user.headers,
        json={"position_seconds": 7.0},
    )
    assert other.status_code == 200
    items = (await client.get("/api/v1/me/history", headers=user.headers)).json()["items"]
    assert [(i["torrent_name"], i["position_seconds"]) for i in items] == [("Second", 7.0), ("First", 44.0)]
    assert all(i["file_name"].endswith("movie.mp4") for i in items)


def unknown_magnet() -> str:
    return f"magnet:?xt=urn:btih:{secrets.token_hex(20)}&dn=Nobody+seeds+this"


async def test_dead_magnet_frees_its_slot_and_can_be_retried(settings_factory: Any, clock: FrozenClock) -> None:
    app = create_app(
        settings_factory(engine_max_active_torrents_per_user=2, library_metadata_give_up_seconds=GIVE_UP), clock=clock
    )
    async with support.client_for(app) as client:
        user = await ts.login(client)
        dead = []
        for _ in range(2):
            added = await client.post("/api/v1/torrents", headers=user.headers, json={"magnet": unknown_magnet()})
            assert added.status_code == 201, added.text
            assert added.json()["state"] == "metadata"
            dead.append(added.json()["id"])
        full = await client.post("/api/v1/torrents", headers=user.headers, json={"magnet": unknown_magnet()})
        assert full.status_code == 409
        assert full.json()["type"].endswith("torrent-limit")
        assert "Remove one" in full.json()["detail"]

        clock.advance(seconds=GIVE_UP + 1)
        listing = (await client.get("/api/v1/torrents", headers=user.headers)).json()["items"]
        assert [i["state"] for i in listing] == ["timed-out", "timed-out"]
        assert all("No peer sent this torrent's details within 2 minutes" in i["error"] for i in listing)
        shown = (await client.get(f"/api/v1/torrents/{dead[0]}", headers=user.headers)).json()
        assert shown["state"] == "timed-out"

        fresh = await client.post("/api/v1/torrents", headers=user.headers, json={"magnet": unknown_magnet()})
        assert fresh.status_code == 201, fresh.text  # the dead magnets no longer hold slots
        retried = await client.post(f"/api/v1/torrents/{dead[0]}/retry", headers=user.headers)
        assert retried.status_code == 200, retried.text
        assert retried.json()["state"] == "metadata"
        again = await client.post(f"/api/v1/torrents/{dead[1]}/retry", headers=user.headers)
        assert again.status_code == 409  # two live torrents now: the limit holds for a retry too
        states = {
            i["id"]: i["state"] for i in (await client.get("/api/v1/torrents", headers=user.headers)).json()["items"]
        }
        assert states[dead[1]] == "timed-out"  # the refused retry changed nothing
        assert states[dead[0]] == "metadata"


@pytest.mark.parametrize(
    ("magnet", "words"),
    [
        ("magnet:?xt=urn:btih", "That is not a whole magnet link"),
        ("magnet:?xt=urn:btih:" + "0" * 40, "hash is all zeros"),
        ("magnet:?xt=urn:btih:nothex0000000000000000000000000000000000", "This magnet link can't be used"),
    ],
)
async def test_bad_magnets_are_explained_to_a_person(client: httpx.AsyncClient, magnet: str, words: str) -> None:
    user = await ts.login(client)
    response = await client.post("/api/v1/torrents", headers=user.headers, json={"magnet": magnet})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("invalid-magnet")
    assert words in problem["detail"]
    assert "{" not in problem["detail"]
    assert (await client.get("/api/v1/torrents", headers=user.headers)).json()["items"] == []
