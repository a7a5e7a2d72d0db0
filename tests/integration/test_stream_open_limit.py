"""Stream opens and stream-URL mints are limited per client address, IPv6 per /64 and IPv4 per /32, like
every address-keyed limit (issue 12, item 2: SR-2.6, SR-5.3); over the limit: 429 with Retry-After."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests import support
from tests.integration import torrents_support as ts
from tests.integration.test_auth_addresses import client_from, random_slash_64
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock

LIMIT = 3


@pytest.fixture
def app(settings_factory: Any, clock: FrozenClock) -> FastAPI:
    limit = f"{LIMIT}/minute"
    return create_app(settings_factory(stream_open_limit=limit, stream_mint_limit=limit), clock=clock)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app) as http:
        yield http


async def _library(client: httpx.AsyncClient, app: FastAPI) -> tuple[ts.Authed, str]:
    user = await ts.login(client)
    media = ts.seed_media(ts.engine_of(app))
    added = await client.post("/api/v1/torrents", headers=user.headers, files={"torrent": ("m", media.torrent)})
    assert added.status_code == 201, added.text
    return user, added.json()["id"]


async def _stream_path(client: httpx.AsyncClient, user: ts.Authed, torrent_id: str) -> str:
    minted = await client.post(f"/api/v1/torrents/{torrent_id}/files/0/stream", headers=user.headers)
    assert minted.status_code == 200, minted.text
    return urlsplit(minted.json()["url"]).path


def _address_in(prefix: str) -> str:
    """Another address of the /64 ``prefix`` (its lower 64 bits at random)."""
    return f"{prefix}:" + ":".join(secrets.token_hex(2) for _ in range(4))


async def _get_from(app: FastAPI, address: str, path: str, method: str = "GET") -> httpx.Response:
    async with client_from(app, address) as other:
        return await other.request(method, path, headers={"Range": "bytes=0-9"})


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["type"].endswith("rate-limited")


async def test_stream_opens_from_one_slash_64_are_counted_together(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, torrent_id = await _library(client, app)
    path = await _stream_path(client, user, torrent_id)
    prefix = random_slash_64()
    statuses = [(await _get_from(app, _address_in(prefix), path)).status_code for _ in range(LIMIT)]
    assert statuses == [206] * LIMIT  # N opens from N addresses of one /64 ...
    assert (await _get_from(app, _address_in(prefix), path, "HEAD")).status_code == 206  # HEAD opens no body
    _assert_limited(await _get_from(app, _address_in(prefix), path))  # ... and the N+1-th is refused
    assert (await _get_from(app, _address_in(random_slash_64()), path)).status_code == 206  # another /64
    assert ts.engine_of(app).stats().readers == 0


async def test_ipv4_clients_are_counted_per_address(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, torrent_id = await _library(client, app)
    path = await _stream_path(client, user, torrent_id)
    statuses = [(await _get_from(app, "198.51.100.7", path)).status_code for _ in range(LIMIT)]
    assert statuses == [206] * LIMIT
    _assert_limited(await _get_from(app, "198.51.100.7", path))
    assert (await _get_from(app, "198.51.100.8", path)).status_code == 206  # the same /24: another client


async def test_stream_url_and_playback_mints_are_counted_per_slash_64(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, torrent_id = await _library(client, app)
    prefix = random_slash_64()

    async def mint(address: str, what: str = "stream") -> httpx.Response:
        async with client_from(app, address) as other:
            return await other.post(f"/api/v1/torrents/{torrent_id}/files/0/{what}", headers=user.headers)

    statuses = [(await mint(_address_in(prefix))).status_code for _ in range(LIMIT)]
    assert statuses == [200] * LIMIT
    _assert_limited(await mint(_address_in(prefix)))
    _assert_limited(await mint(_address_in(prefix), "playback"))  # one budget for every signed URL
    assert (await mint(_address_in(random_slash_64()))).status_code == 200


@pytest.mark.parametrize("value", ["600/minute", "10/second"])
def test_limits_come_from_settings(settings_factory: Any, value: str) -> None:
    settings = settings_factory(stream_open_limit=value, stream_mint_limit=value)
    assert (settings.stream_open_limit, settings.stream_mint_limit) == (value, value)


def test_a_nonsense_limit_is_refused_at_start_up(settings_factory: Any) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        settings_factory(stream_open_limit="lots")
