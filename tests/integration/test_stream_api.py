"""The stream endpoint on the MemoryEngine: Range/If-Range/HEAD/416 semantics (SR-3.6), signed
URLs refused when tampered, expired, revoked or no longer owned (SR-5.6), subtitles, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests import support
from tests.integration import torrents_support as ts
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.streaming.urls import routing_info_hash


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app) as http:
        yield http


class Setup:
    def __init__(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        self.client, self.app = client, app

    async def start(self) -> Setup:
        self.media = ts.seed_media(ts.engine_of(self.app))
        self.user = await ts.login(self.client)
        added = await self.client.post(
            "/api/v1/torrents", headers=self.user.headers, files={"torrent": ("m.torrent", self.media.torrent)}
        )
        assert added.status_code == 201, added.text
        self.torrent_id = added.json()["id"]
        self.info_hash = str(added.json()["info_hash"])
        self.movie = self.media.files["movie.mp4"]
        return self

    async def url(self, index: int = 0, user: ts.Authed | None = None) -> str:
        response = await self.client.post(
            f"/api/v1/torrents/{self.torrent_id}/files/{index}/stream", headers=(user or self.user).headers
        )
        assert response.status_code == 200, response.text
        return str(response.json()["url"])

    async def get(self, url: str, method: str = "GET", **headers: str) -> httpx.Response:
        return await self.client.request(method, urlsplit(url).path, headers=headers)


@pytest.fixture
async def setup(client: httpx.AsyncClient, app: FastAPI) -> Setup:
    return await Setup(client, app).start()


async def test_whole_file_with_headers(setup: Setup, app: FastAPI) -> None:
    url = await setup.url()
    assert url.startswith("http://testserver/api/v1/stream/")
    response = await setup.get(url)
    assert response.status_code == 200
    assert response.content == setup.movie
    h = response.headers
    assert h["accept-ranges"] == "bytes"
    assert h["content-length"] == str(len(setup.movie))
    assert h["content-type"] == "video/mp4"
    assert h["content-disposition"] == "inline; filename=\"movie.mp4\"; filename*=UTF-8''movie.mp4"
    assert h["cache-control"] == "private, no-store"
    assert h["etag"].startswith('"')
    assert h["etag"].endswith(f'-0-{len(setup.movie)}"')
    assert "content-range" not in h
    assert ts.engine_of(app).stats().readers == 0  # the response released its reader
    metrics = (await setup.client.get("/metrics")).text
    assert f"ts_stream_bytes_total {float(len(setup.movie))}" in metrics
    assert "ts_stream_time_to_first_byte_seconds_count 1.0" in metrics


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-1", 0, 1),  # player probe
        ("bytes=100000-150000", 100_000, 150_000),  # middle, crosses pieces
        ("bytes=299000-", 299_000, 299_999),  # open
        ("bytes=-500", 299_500, 299_999),  # suffix
        ("bytes=0-10, 5-20, 1000-2000", 0, 20),  # coalesced; the first range only
        ("bytes=299990-999999999", 299_990, 299_999),  # clamped
    ],
)
async def test_ranges(setup: Setup, header: str, start: int, end: int) -> None:
    response = await setup.get(await setup.url(), Range=header)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(setup.movie)}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == setup.movie[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=300000-", "bytes=-0", "bytes=" + ",".join(["1-2"] * 20)])
async def test_unsatisfiable(setup: Setup, header: str) -> None:
    response = await setup.get(await setup.url(), Range=header)
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(setup.movie)}"
    assert response.headers["content-type"] == "application/problem+json"


async def test_malformed_range_is_ignored(setup: Setup) -> None:
    response = await setup.get(await setup.url(), Range="bytes=oops")
    assert response.status_code == 200
    assert len(response.content) == len(setup.movie)


async def test_if_range(setup: Setup) -> None:
    url = await setup.url()
    etag = (await setup.get(url, "HEAD")).headers["etag"]
    matched = await setup.get(url, Range="bytes=10-19", **{"If-Range": etag})
    assert matched.status_code == 206
    assert matched.content == setup.movie[10:20]
    for stale in ('"other"', f"W/{etag}", "Wed, 21 Oct 2015 07:28:00 GMT"):
        whole = await setup.get(url, Range="bytes=10-19", **{"If-Range": stale})
        assert whole.status_code == 200
        assert len(whole.content) == len(setup.movie)


async def test_head_sends_headers_without_opening_a_reader(setup: Setup, app: FastAPI) -> None:
    engine = ts.engine_of(app)
    opened: list[Any] = []
    original = engine.open_reader

    async def spy(info_hash: str, index: int, owner: str | None = None) -> Any:
        opened.append(index)
        return await original(info_hash, index, owner)

    engine.open_reader = spy  # type: ignore[method-assign]
    url = await setup.url()
    head = await setup.get(url, "HEAD", Range="bytes=5-9")
    assert head.status_code == 206
    assert head.headers["content-length"] == "5"
    assert head.headers["content-range"] == f"bytes 5-9/{len(setup.movie)}"
    assert head.content == b""
    assert opened == []
    assert (await setup.get(url, Range="bytes=5-9")).content == setup.movie[5:10]
    assert opened == [0]


async def test_tampered_token_refused(setup: Setup) -> None:
    url = await setup.url()
    info_hash, token = urlsplit(url).path.rsplit("/", 2)[1:]
    payload, mac = token.split(".")
    flipped = payload[:5] + ("A" if payload[5] != "A" else "B") + payload[6:]
    for bad in (f"{flipped}.{mac}", f"{payload}.{mac[:-2]}", "garbage-token-value"):
        response = await setup.client.get(f"/api/v1/stream/{info_hash}/{bad}")
        assert response.status_code == 401
        assert response.json()["type"].endswith("stream-token-invalid")


async def test_stream_url_is_routable_by_info_hash(setup: Setup) -> None:
    """``/api/v1/stream/{info_hash}/{token}``: the balancer's key is the torrent's (v1) info-hash."""
    path = urlsplit(await setup.url()).path
    assert routing_info_hash(path) == setup.info_hash
    assert path.startswith(f"/api/v1/stream/{setup.info_hash}/")


async def test_token_under_another_info_hash_refused(setup: Setup) -> None:
    """A genuine token moved under another (or re-cased-to-other) info-hash segment fails its MAC."""
    other = ts.seed_media(ts.engine_of(setup.app), seed=9)
    added = await setup.client.post(
        "/api/v1/torrents", headers=setup.user.headers, files={"torrent": ("o.torrent", other.torrent)}
    )
    assert added.status_code == 201, added.text
    token = urlsplit(await setup.url()).path.rsplit("/", 1)[1]
    changed = setup.info_hash[:-1] + ("0" if setup.info_hash[-1] != "0" else "1")
    for info_hash in (added.json()["info_hash"], changed, "0" * 64):
        response = await setup.client.get(f"/api/v1/stream/{info_hash}/{token}", headers={"Range": "bytes=0-0"})
        assert response.status_code == 401, info_hash
        assert response.json()["type"].endswith("stream-token-invalid")
    malformed = await setup.client.get(f"/api/v1/stream/not-a-hash/{token}")
    assert malformed.status_code == 422
    assert malformed.headers["content-type"].startswith("application/problem+json")
    # the genuine pair still works, with the hash in either case
    upper = await setup.client.get(f"/api/v1/stream/{setup.info_hash.upper()}/{token}", headers={"Range": "bytes=0-0"})
    assert upper.status_code == 206


async def test_expired_token_refused(setup: Setup, clock: FrozenClock) -> None:
    url = await setup.url()
    clock.advance(hours=5, minutes=59)
    assert (await setup.get(url, Range="bytes=0-0")).status_code == 206
    clock.advance(minutes=1)
    response = await setup.get(url, Range="bytes=0-0")
    assert response.status_code == 401
    assert response.json()["type"].endswith("stream-token-expired")


async def test_revoked_session_kills_its_urls(setup: Setup) -> None:
    url = await setup.url()
    await ts.revoke_session(setup.client, setup.user)
    response = await setup.get(url)
    assert response.status_code == 401
    assert response.json()["type"].endswith("stream-session-revoked")


async def test_url_dies_when_the_torrent_leaves_the_library(setup: Setup) -> None:
    other = await ts.login(setup.client)
    await setup.client.post("/api/v1/torrents", headers=other.headers, files={"torrent": ("m", setup.media.torrent)})
    url = await setup.url()
    assert (
        await setup.client.delete(f"/api/v1/torrents/{setup.torrent_id}", headers=setup.user.headers)
    ).status_code == 204
    response = await setup.get(url)
    assert response.status_code == 403  # still on disk for the other user, but no longer this user's
    assert response.json()["type"].endswith("stream-forbidden")


async def test_stream_url_for_missing_file(setup: Setup) -> None:
    response = await setup.client.post(
        f"/api/v1/torrents/{setup.torrent_id}/files/7/stream", headers=setup.user.headers
    )
    assert response.status_code == 404


async def test_public_url_names_this_node(settings_factory: Any, clock: FrozenClock) -> None:
    app = create_app(settings_factory(public_url="https://node-7.example.net/"), clock=clock)
    async with support.client_for(app) as client:
        setup = await Setup(client, app).start()
        assert (await setup.url()).startswith("https://node-7.example.net/api/v1/stream/")


async def test_subtitles_as_webvtt(setup: Setup) -> None:
    base = f"/api/v1/torrents/{setup.torrent_id}/files"
    srt = await setup.client.get(f"{base}/{setup.media.index('movie.srt')}/subtitles.vtt", headers=setup.user.headers)
    assert srt.status_code == 200
    assert srt.headers["content-type"] == "text/vtt; charset=utf-8"
    assert srt.text == "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nCafé\n"
    txt = await setup.client.get(f"{base}/{setup.media.index('notes.txt')}/subtitles.vtt", headers=setup.user.headers)
    assert txt.status_code == 422
    assert (await setup.client.get(f"{base}/1/subtitles.vtt")).status_code == 401


async def test_evicted_torrent_is_readded_on_the_next_stream(setup: Setup, app: FastAPI) -> None:
    engine = ts.engine_of(app)
    info_hash = (await setup.client.get(f"/api/v1/torrents/{setup.torrent_id}", headers=setup.user.headers)).json()[
        "info_hash"
    ]
    await engine.remove(info_hash)  # what eviction under the cache limit does
    shown = await setup.client.get(f"/api/v1/torrents/{setup.torrent_id}", headers=setup.user.headers)
    assert shown.json()["state"] == "missing"
    response = await setup.get(await setup.url(), Range="bytes=0-99")
    assert response.status_code == 206
    assert response.content == setup.movie[:100]
    assert engine.status(info_hash).state == "seeding"


@pytest.mark.parametrize(
    ("name", "inline_type"),
    [
        ("page.html", None),
        ("page.htm", None),
        ("image.svg", None),
        ("feed.xml", None),
        ("app.js", None),
        ("notes.txt", None),
        ("poster.png", None),
        ("movie.mp4", "video/mp4"),
        ("movie.mkv", "video/x-matroska"),
        ("movie.srt", "application/x-subrip"),
        ("movie.vtt", "text/vtt"),
    ],
)
async def test_only_media_and_subtitles_are_served_inline(
    client: httpx.AsyncClient, app: FastAPI, name: str, inline_type: str | None
) -> None:
    """Issue 12 item 7: HTML, SVG, XML, JS (anything not media or subtitles) is a download, never rendered."""
    body = b"<html><script>alert(document.domain)</script></html>"
    torrent = ts.engine_of(app).seed("Active", [(name, body), ("filler.bin", b"x" * 20_000)], piece_length=16384)
    user = await ts.login(client)
    added = await client.post("/api/v1/torrents", headers=user.headers, files={"torrent": ("a.torrent", torrent)})
    assert added.status_code == 201, added.text
    minted = await client.post(f"/api/v1/torrents/{added.json()['id']}/files/0/stream", headers=user.headers)
    if inline_type is None:  # the API issues no URL for it (issue 17) ...
        assert minted.status_code == 422, minted.text
        assert minted.json()["type"].endswith("file-not-playable")
        # ... and a genuine token for it still never renders (issue 12, item 7)
        path = ts.mint_stream_path(app, user, added.json()["id"], 0, added.json()["info_hash"])
    else:
        assert minted.status_code == 200, minted.text
        path = urlsplit(minted.json()["url"]).path
    for method in ("GET", "HEAD"):
        response = await client.request(method, path)
        assert response.status_code == 200
        h = response.headers
        assert h["x-content-type-options"] == "nosniff"
        if inline_type is None:
            assert h["content-type"] == "application/octet-stream"
            assert h["content-disposition"].startswith(f'attachment; filename="{name}"')
        else:
            assert h["content-type"] == inline_type
            assert h["content-disposition"].startswith(f'inline; filename="{name}"')
    assert response.status_code == 200
