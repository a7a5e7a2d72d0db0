"""Swarm health from real loopback trackers: HTTP scrape and UDP (BEP 15), a tracker that hangs, one that
answers garbage, one on a private address (refused by default), back-off, and a job round on the database."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
import pytest
from sqlalchemy import select

from tests import support
from tests.integration.catalog_helpers import add_entries, db_session, entry
from torrent_streamer.catalog import work_service
from torrent_streamer.catalog.magnet import build_magnet
from torrent_streamer.catalog.models import CatalogEntry, CatalogWork
from torrent_streamer.catalog.scrape import ScrapeError, Scraper, bdecode, scrape_url, trackers_of
from torrent_streamer.catalog.scrape_job import scrape_round
from torrent_streamer.core.db import create_sessionmaker

SWARMS = {bytes.fromhex("11" * 20): (120, 7), bytes.fromhex("22" * 20): (0, 0)}


def bencode(value: Any) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(value.items())) + b"e"
    raise TypeError(value)


class HttpTracker:
    """A loopback HTTP tracker: ``mode`` ok | hang | garbage; records every request line."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode, self.requests, self.port = mode, [], 0
        self.server: asyncio.Server | None = None
        self.closing = asyncio.Event()
        self.handlers: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            await self.answer(reader, writer)
        finally:
            writer.close()
            self.handlers.discard(task)

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode()
        self.requests.append(line)
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        if self.mode == "hang":
            await self.closing.wait()
            return
        hashes = [unquote_to_bytes(p[10:]) for p in line.split(" ")[1].split("?", 1)[1].split("&")]
        files = {h: {b"complete": SWARMS[h][0], b"incomplete": SWARMS[h][1]} for h in hashes if h in SWARMS}
        body = b"<html>not bencode" if self.mode == "garbage" else bencode({b"files": files})
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async def __aenter__(self) -> HttpTracker:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.closing.set()
        self.server.close()
        await self.server.wait_closed()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    @property
    def announce(self) -> str:
        return f"http://127.0.0.1:{self.port}/announce"


class UdpTracker(asyncio.DatagramProtocol):
    """A loopback BEP 15 tracker: ``mode`` ok | hang | garbage."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode, self.packets, self.port = mode, 0, 0
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets += 1
        if self.mode == "hang":
            return
        if self.mode == "garbage":
            self.transport.sendto(b"\x00garbage", addr)
            return
        action, tid = struct.unpack(">II", data[8:16])
        if action == 0:
            self.transport.sendto(struct.pack(">IIQ", 0, tid, 0xC0FFEE), addr)
        elif action == 2 and struct.unpack(">Q", data[:8])[0] == 0xC0FFEE:
            hashes = [data[16 + 20 * i : 36 + 20 * i] for i in range((len(data) - 16) // 20)]
            body = b"".join(struct.pack(">III", SWARMS.get(h, (0, 0))[0], 0, SWARMS.get(h, (0, 0))[1]) for h in hashes)
            self.transport.sendto(struct.pack(">II", 2, tid) + body, addr)

    async def __aenter__(self) -> UdpTracker:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.transport.close()

    @property
    def announce(self) -> str:
        return f"udp://127.0.0.1:{self.port}/announce"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
        yield client


def scraper(http: httpx.AsyncClient, *, allow_private: bool = True, timeout: float = 2.0, **kw: Any) -> Scraper:
    return Scraper(
        http=http, allow_private=allow_private, timeout=timeout, concurrency=2, requests_per_second=100, **kw
    )


def test_pure_helpers() -> None:
    assert scrape_url("http://t.example/announce") == "http://t.example/scrape"
    assert scrape_url("http://t.example/x/announce.php?k=1") == "http://t.example/x/scrape.php?k=1"
    assert scrape_url("http://t.example/a") is None
    magnet = (
        build_magnet("11" * 20, "x")
        + "&tr=udp%3A%2F%2Ft%3A1%2Fannounce&tr=ftp%3A%2F%2Fx&tr=udp%3A%2F%2Ft%3A1%2Fannounce"
    )
    assert trackers_of(magnet) == ["udp://t:1/announce"]
    assert bdecode(b"d5:filesd1:xi3eee") == {b"files": {b"x": 3}}
    for bad in (b"", b"i12", b"d1:x", b"l" * 100, b"5:ab", b"d i1e i2e e"):
        with pytest.raises((ValueError, IndexError)):
            bdecode(bad)


async def test_http_and_udp_trackers_report_seeders_and_leechers(http: httpx.AsyncClient) -> None:
    async with HttpTracker() as web, UdpTracker() as udp:
        for tracker in (web.announce, udp.announce):
            found = await scraper(http).scrape(tracker, list(SWARMS))
            assert {h: (s.seeders, s.leechers) for h, s in found.items()} == SWARMS
        assert web.requests
        assert web.requests[0].startswith("GET /scrape?info_hash=")


async def test_hanging_and_garbage_trackers_fail_cleanly_and_back_off(http: httpx.AsyncClient) -> None:
    async with (
        HttpTracker("hang") as slow,
        UdpTracker("hang") as mute,
        HttpTracker("garbage") as junk,
        UdpTracker("garbage") as noise,
    ):
        if True:
            s = scraper(http, timeout=0.3)
            for tracker, status in ((slow.announce, "timeout"), (mute.announce, "timeout")):
                with pytest.raises(ScrapeError) as failed:
                    await s.scrape(tracker, list(SWARMS))
                assert failed.value.status == status
            for tracker in (junk.announce, noise.announce):
                with pytest.raises(ScrapeError) as failed:
                    await s.scrape(tracker, list(SWARMS))
                assert failed.value.status == "invalid"
            packets = noise.packets
            with pytest.raises(ScrapeError) as again:
                await s.scrape(noise.announce, list(SWARMS))
            assert again.value.status == "backoff"
            assert noise.packets == packets  # nothing sent while backing off


async def test_private_addresses_are_refused_by_default(http: httpx.AsyncClient) -> None:
    async with HttpTracker() as web, UdpTracker() as udp:
        strict = scraper(http, allow_private=False)
        for tracker in (web.announce, udp.announce, "http://localhost:1/announce"):
            with pytest.raises(ScrapeError) as refused:
                await strict.scrape(tracker, list(SWARMS))
            assert refused.value.status == "blocked"
        named = scraper(http, allow_private=False, resolve=lambda host: ["10.0.0.7"])
        with pytest.raises(ScrapeError) as rebound:
            await named.scrape("udp://tracker.example.org:6969/announce", list(SWARMS))
        assert rebound.value.status == "blocked"
        assert web.requests == []
        assert udp.packets == 0


async def test_a_job_round_refreshes_health_and_reranks_works(http: httpx.AsyncClient, clean_db: str) -> None:
    async with UdpTracker() as udp, db_session(clean_db) as session:
        tr = f"&tr={udp.announce}"
        alive = entry("Dune.2021.1080p.WEB-DL.x264-A", info_hash_v1="11" * 20, seeders=0, leechers=0)
        dead = entry("Dune.2021.2160p.WEB-DL.x265-B", info_hash_v1="22" * 20, seeders=50, leechers=0)
        alive.magnet, dead.magnet = build_magnet("11" * 20, "a") + tr, build_magnet("22" * 20, "b") + tr
        await add_entries(session, alive, dead)
        await work_service.backfill(session, datetime(2024, 1, 1, tzinfo=UTC))
        await session.commit()
        engine = support.engine_for(clean_db)
        try:
            now = datetime(2025, 1, 1, tzinfo=UTC)
            assert await scrape_round(create_sessionmaker(engine), scraper(http), now=now, batch=10) == 2
        finally:
            await engine.dispose()
        session.expire_all()
        fresh = {e.info_hash_v1: e for e in (await session.execute(select(CatalogEntry))).scalars()}
        assert (fresh["11" * 20].seeders, fresh["22" * 20].seeders) == (120, 0)
        assert fresh["11" * 20].health_checked_at == now
        assert fresh["22" * 20].health == 0
        [work] = (await session.execute(select(CatalogWork))).scalars()
        assert work.best_entry_id == fresh["11" * 20].id  # the live swarm is the best release now
