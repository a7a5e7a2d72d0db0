"""Torznab against a real local HTTP server serving recorded answers: fan-out, per-indexer timeout,
malformed/XXE/billion-laughs payloads, de-duplication, caching, SSRF refusal, encrypted API keys."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests import support
from tests.integration.catalog_helpers import BOX, CURSOR_KEY, add_entries, db_session, entry
from torrent_streamer.catalog import service
from torrent_streamer.catalog.models import CatalogEntry, Indexer
from torrent_streamer.catalog.schemas import IndexerCreate, SearchParams
from torrent_streamer.catalog.service import Actor
from torrent_streamer.catalog.torznab import (
    IndexerTarget,
    MemoryCache,
    RedisCache,
    ResultCache,
    TorznabClient,
    TorznabError,
    parse_torznab,
    validate_indexer_url,
)
from torrent_streamer.core.clock import FrozenClock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "torznab"
HASH_1080P = "1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e"
ROUTES = {
    "/jackett/api": "jackett_interstellar.xml",
    "/prowlarr/api": "prowlarr_interstellar.xml",
    "/malformed/api": "malformed.xml",
    "/xxe/api": "xxe.xml",
    "/lol/api": "billion_laughs.xml",
    "/error/api": "error.xml",
}


@dataclass
class TorznabServer:
    base: str
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}/api"

    def hits(self, name: str) -> int:
        return sum(1 for path, _ in self.requests if path == f"/{name}/api")


@pytest.fixture
async def torznab_server() -> AsyncIterator[TorznabServer]:
    never = asyncio.Event()  # the slow indexer waits on it: it never answers in time
    server_state = TorznabServer(base="")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            target = urlsplit(request_line.split(" ")[1])
            server_state.requests.append((target.path, parse_qs(target.query)))
            status, body, headers = "200 OK", b"", "Content-Type: application/rss+xml\r\n"
            if target.path == "/slow/api":
                await never.wait()
            elif target.path == "/garbage/api":
                body = b"\x00\xff<html><body>Cloudflare says no</body>"
            elif target.path == "/500/api":
                status, body = "500 Internal Server Error", b"boom"
            elif target.path == "/redirect/api":
                status, headers = "302 Found", "Location: http://169.254.169.254/latest/meta-data/\r\n"
            elif target.path == "/hop/api":  # a relative redirect to a good indexer on the same server
                status, headers = "302 Found", f"Location: /jackett/api?{target.query}\r\n"
            elif target.path == "/loop/api":
                status, headers = "302 Found", "Location: /loop/api\r\n"
            elif target.path == "/file/api":
                status, headers = "302 Found", "Location: file:///etc/passwd\r\n"
            elif target.path in ROUTES:
                body = (FIXTURES / ROUTES[target.path]).read_bytes()
            else:
                status = "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server_state.base = f"http://127.0.0.1:{port}"
    async with server:
        yield server_state
        never.set()
        server.close()


ClientFactory = Callable[..., TorznabClient]


@pytest.fixture
async def clients() -> AsyncIterator[ClientFactory]:
    """``clients(cache, allow_private=...)``: Torznab clients (each with its own pinned HTTP client), closed after."""
    made: list[TorznabClient] = []

    def make(cache: ResultCache, *, allow_private: bool) -> TorznabClient:
        made.append(TorznabClient(cache, allow_private=allow_private))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


def target(server: TorznabServer, name: str, timeout: float = 2.0, key: str | None = None) -> IndexerTarget:
    return IndexerTarget(id=name, name=name, url=server.url(name), api_key=key, timeout=timeout)


def test_recorded_jackett_answer_is_normalised() -> None:
    results = {r.info_hash: r for r in parse_torznab((FIXTURES / "jackett_interstellar.xml").read_bytes(), "j")}
    assert len(results) == 3  # the item without any info-hash is dropped
    hd = results[HASH_1080P]
    assert (hd.seeders, hd.leechers, hd.category, hd.size_bytes) == (412, 43, "movies", 10931646033)
    assert hd.magnet.startswith("magnet:?xt=urn:btih:1D2E3F")
    uhd = results["aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00"]
    assert uhd.magnet.startswith("magnet:?xt=urn:btih:aa11bb22")
    assert uhd.seeders == 1290
    ost = next(r for r in results.values() if r.title.startswith("Interstellar.OST"))
    assert ost.category == "music"
    assert len(ost.info_hash) == 40


@pytest.mark.parametrize("fixture", ["xxe.xml", "billion_laughs.xml", "malformed.xml", "error.xml"])
def test_hostile_or_broken_xml_is_refused_without_expanding_anything(fixture: str) -> None:
    with pytest.raises(TorznabError):
        parse_torznab((FIXTURES / fixture).read_bytes(), "evil")


@pytest.mark.parametrize(
    "url", ["ftp://x/api", "file:///etc/passwd", "http://user:pw@host/api", "gopher://h", "http:///x"]
)
def test_indexer_urls_must_be_plain_http_or_https(url: str) -> None:
    with pytest.raises(ValueError, match="indexer URLs"):
        validate_indexer_url(url)


async def test_fan_out_degrades_per_indexer_and_deduplicates(
    torznab_server: TorznabServer, clients: ClientFactory
) -> None:
    client = clients(MemoryCache(FrozenClock()), allow_private=True)
    names = ["jackett", "prowlarr", "slow", "malformed", "xxe", "lol", "garbage", "500", "redirect", "error"]
    targets = [target(torznab_server, n, timeout=0.5 if n == "slow" else 5.0, key=f"{n}-key") for n in names]
    results, outcomes = await client.search(targets, "interstellar")
    status = {o.name: o.status for o in outcomes}
    assert status == {
        "jackett": "ok",
        "prowlarr": "ok",
        "slow": "timeout",
        "malformed": "invalid",
        "xxe": "invalid",
        "lol": "invalid",
        "garbage": "invalid",
        "500": "error",
        "redirect": "blocked",  # the hop to 169.254.169.254 is checked like the first request
        "error": "invalid",
    }
    hashes = [r.info_hash for r in results]
    assert len(hashes) == len(set(hashes)) == 4
    hd = next(r for r in results if r.info_hash == HASH_1080P)
    assert hd.seeders == 412
    assert hd.indexer == "jackett"
    assert torznab_server.requests[0][1]["t"] == ["search"]
    assert all(q["apikey"] == [f"{p.split('/')[1]}-key"] for p, q in torznab_server.requests)


@pytest.mark.parametrize("backend", ["memory", *(["redis"] if support.USE_REDIS else [])])
async def test_results_are_cached_until_they_expire(
    torznab_server: TorznabServer, clients: ClientFactory, backend: str
) -> None:
    clock = FrozenClock()
    if backend == "redis":
        from redis.asyncio import Redis

        redis = Redis.from_url(support.REDIS_URL)
        cache: MemoryCache | RedisCache = RedisCache(redis, f"ts-test-{support.RUN_ID}-{id(clock)}", ttl=60)
    else:
        cache = MemoryCache(clock, ttl=60)
    client = clients(cache, allow_private=True)
    first, _ = await client.search([target(torznab_server, "jackett")], "interstellar")
    again, outcomes = await client.search([target(torznab_server, "jackett")], "interstellar")
    assert outcomes[0].status == "cached"
    assert again == first
    assert torznab_server.hits("jackett") == 1
    if backend == "memory":
        clock.advance(seconds=61)
        _, outcomes = await client.search([target(torznab_server, "jackett")], "interstellar")
        assert outcomes[0].status == "ok"
        assert torznab_server.hits("jackett") == 2
    else:
        await redis.aclose()


async def test_private_addresses_are_refused_unless_allowed(
    torznab_server: TorznabServer, clients: ClientFactory
) -> None:
    client = clients(MemoryCache(FrozenClock()), allow_private=False)
    for url in (torznab_server.url("jackett"), "http://10.0.0.1/api", "http://[::1]:9/api", "http://169.254.169.254/"):
        _, outcomes = await client.search([IndexerTarget("x", "x", url, None, 2.0)], "interstellar")
        assert outcomes[0].status == "blocked"
    assert torznab_server.requests == []


async def test_search_merges_indexers_with_the_catalog_and_keys_are_encrypted(
    clean_db: str, torznab_server: TorznabServer, clients: ClientFactory
) -> None:
    actor = Actor(user_id=uuid.uuid4())
    async with db_session(clean_db) as session:
        await add_entries(session, entry("Interstellar.2014.1080p.BluRay.x264-SPARKS", info_hash_v1=HASH_1080P))
        for name in ("jackett", "prowlarr", "slow"):
            data = IndexerCreate(
                name=name, url=torznab_server.url(name), api_key=f"secret-{name}-key", timeout_seconds=0.5
            )
            await service.add_indexer(session, data, box=BOX, actor=actor, now=FrozenClock().now())
        await session.commit()
        stored = (await session.execute(select(Indexer.api_key_encrypted))).scalars().all()
        assert all(value and "secret-" not in value for value in stored)

        client = clients(MemoryCache(FrozenClock()), allow_private=True)
        checked = FrozenClock().now()
        page = await service.search(
            session, SearchParams(q="interstellar"), cursor_key=CURSOR_KEY, torznab=client, box=BOX, now=checked
        )
        await session.commit()
        refreshed = (
            await session.execute(select(CatalogEntry).where(CatalogEntry.info_hash_v1 == HASH_1080P))
        ).scalar_one()
        assert (refreshed.seeders, refreshed.health_checked_at) == (412, checked)  # the indexer's swarm numbers
        assert refreshed.health > 0
    assert [item.info_hash for item in page.items] == [HASH_1080P]
    assert HASH_1080P not in {e.info_hash for e in page.external}  # already in the catalog
    assert len(page.external) == 3
    assert all(e.magnet.startswith("magnet:?") for e in page.external)
    # indexer results are parsed like catalog entries (issue 16): work title, year, resolution, source...
    parsed = {e.title: e.parsed for e in page.external}
    yts = parsed["Interstellar (2014) [2160p] [4K] [BluRay] [5.1] [YTS.MX]"]
    assert yts is not None
    assert (yts.title, yts.year, yts.resolution, yts.source) == ("Interstellar", 2014, "2160p", "BluRay")
    assert all(p is not None and p.kind == "movie" for p in parsed.values())
    assert {s.name: s.status for s in page.indexers} == {"jackett": "ok", "prowlarr": "ok", "slow": "timeout"}
    sent = {path.split("/")[1]: query["apikey"][0] for path, query in torznab_server.requests}
    assert sent == {"jackett": "secret-jackett-key", "prowlarr": "secret-prowlarr-key", "slow": "secret-slow-key"}


async def test_redirect_hops_are_followed_and_each_one_checked(
    torznab_server: TorznabServer, clients: ClientFactory
) -> None:
    client = clients(MemoryCache(FrozenClock()), allow_private=True)  # loopback allowed: the test server
    targets = [target(torznab_server, name) for name in ("hop", "redirect", "loop", "file")]
    results, outcomes = await client.search(targets, "interstellar")
    assert {o.name: o.status for o in outcomes} == {"hop": "ok", "redirect": "blocked", "loop": "error",
                                                    "file": "error"}  # fmt: skip
    assert HASH_1080P in {r.info_hash for r in results}
    assert torznab_server.hits("jackett") == 1
    assert torznab_server.hits("loop") == 4  # the first request and three redirects, then it stops


async def test_the_connection_goes_to_the_address_that_was_checked(
    torznab_server: TorznabServer, clients: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the first answer is public (passes the check), every later one is loopback.

    The client must resolve once and connect to the checked address; a second lookup would reach the
    loopback server behind the check.
    """
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding_getaddrinfo(host: object, port: object, *args: object, **kwargs: object) -> object:
        if host not in ("rebind.test", b"rebind.test"):  # anyio passes IDNA-encoded bytes
            return real_getaddrinfo(host, port, *args, **kwargs)  # type: ignore[arg-type]
        lookups.append(str(host))
        address = "93.184.215.14" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(str(port))))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    port = urlsplit(torznab_server.base).port
    client = clients(MemoryCache(FrozenClock()), allow_private=False)
    indexer = IndexerTarget("rebind", "rebind", f"http://rebind.test:{port}/jackett/api", None, 2.0)
    _, outcomes = await client.search([indexer], "interstellar")
    assert outcomes[0].status in ("error", "timeout")  # the public address does not answer here
    assert torznab_server.requests == []
    assert lookups == ["rebind.test"]  # one resolution, then the checked address is used
