"""Tracker scraping for live swarm health: HTTP scrape (BEP 48) and UDP (BEP 15), batched and bounded.

Every tracker host is resolved and checked against the engine's SSRF policy (``engine.netpolicy``)
before any packet leaves; UDP and plain-HTTP requests then go to the checked address (no second
resolution). Each tracker has its own exponential back-off; concurrency and request rate are bounded.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote_from_bytes, urlsplit, urlunsplit

import httpx

from torrent_streamer.engine.netpolicy import is_blocked_host, is_blocked_ip, parse_ip

UDP_MAGIC = 0x41727101980
UDP_BATCH = 74  # BEP 15: at most ~74 info-hashes fit one scrape packet
HTTP_BATCH = 50
MAX_BODY = 256 * 1024
BACKOFF_START, BACKOFF_MAX = 60.0, 3600.0


class ScrapeError(Exception):
    """A tracker refused, timed out, answered garbage, or may not be contacted (``blocked``)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status  # blocked | timeout | invalid | error


@dataclass(frozen=True)
class Swarm:
    seeders: int
    leechers: int


def trackers_of(magnet: str) -> list[str]:
    """The ``tr`` URLs of a magnet (http, https, udp only), in order, without duplicates."""
    query = magnet.split("?", 1)[1] if "?" in magnet else ""
    urls = [v for k, v in parse_qsl(query) if k == "tr" and urlsplit(v).scheme in ("http", "https", "udp")]
    return list(dict.fromkeys(urls))[:10]


def scrape_url(announce: str) -> str | None:
    """BEP 48: the scrape URL replaces the last path segment's ``announce``; None when there is none."""
    parts = urlsplit(announce)
    head, _, last = parts.path.rpartition("/")
    if not last.startswith("announce"):
        return None
    return urlunsplit(parts._replace(path=f"{head}/scrape{last[len('announce') :]}"))


# ---------------------------------------------------------------- bencode (scrape answers only)


def bdecode(data: bytes) -> object:
    """Decode one bencoded value; ``ValueError`` on anything malformed (depth and size bounded)."""
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise ValueError("trailing data")
    return value


def _decode(data: bytes, i: int, depth: int) -> tuple[object, int]:
    if depth > 32 or i >= len(data):
        raise ValueError("truncated or too deep")
    c = data[i : i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1 : end]), end + 1
    if c in (b"l", b"d"):
        items: list[object] = []
        i += 1
        while data[i : i + 1] != b"e":
            item, i = _decode(data, i, depth + 1)
            items.append(item)
            if i >= len(data):
                raise ValueError("truncated")
        if c == b"l":
            return items, i + 1
        if len(items) % 2 or not all(isinstance(k, bytes) for k in items[::2]):
            raise ValueError("bad dictionary")
        return dict(zip(items[::2], items[1::2], strict=True)), i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        length = int(data[i:colon])
        if colon + 1 + length > len(data):
            raise ValueError("truncated string")
        return data[colon + 1 : colon + 1 + length], colon + 1 + length
    raise ValueError("not bencode")


def parse_http_scrape(body: bytes, hashes: Iterable[bytes]) -> dict[bytes, Swarm]:
    try:
        decoded = bdecode(body)
    except (ValueError, IndexError) as exc:
        raise ScrapeError("invalid", f"not a scrape answer: {exc}") from None
    files = decoded.get(b"files") if isinstance(decoded, dict) else None
    if not isinstance(files, dict):
        raise ScrapeError("invalid", "no 'files' dictionary")
    found: dict[bytes, Swarm] = {}
    for info_hash in hashes:
        stats = files.get(info_hash)
        if isinstance(stats, dict):
            seeders, leechers = stats.get(b"complete", 0), stats.get(b"incomplete", 0)
            if isinstance(seeders, int) and isinstance(leechers, int):
                found[info_hash] = Swarm(max(0, seeders), max(0, leechers))
    return found


# ---------------------------------------------------------------- the scraper


@dataclass
class _Backoff:
    failures: int = 0
    until: float = 0.0


@dataclass
class Scraper:
    """Scrapes trackers for many info-hashes; one instance per app (its back-off table is its state)."""

    http: httpx.AsyncClient
    allow_private: bool
    timeout: float
    concurrency: int
    requests_per_second: float
    resolve: Callable[[str], list[str]] | None = None  # host → addresses (tests may pin it)
    clock: Callable[[], float] = time.monotonic
    on_request: Callable[[str, str], None] | None = None  # (scheme, status) for metrics
    _backoff: dict[str, _Backoff] = field(default_factory=dict)
    _slots: asyncio.Semaphore | None = None
    _next_slot: float = 0.0
    _rate_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def scrape(self, tracker: str, hashes: list[bytes]) -> dict[bytes, Swarm]:
        """Swarm numbers for ``hashes`` (20-byte v1) from one tracker, in batches; raises ``ScrapeError``."""
        state = self._backoff.setdefault(tracker, _Backoff())
        if state.until > self.clock():
            raise ScrapeError("backoff", "tracker is backing off")
        found: dict[bytes, Swarm] = {}
        scheme = urlsplit(tracker).scheme
        batch = UDP_BATCH if scheme == "udp" else HTTP_BATCH
        try:
            for start in range(0, len(hashes), batch):
                found |= await self._one(tracker, scheme, hashes[start : start + batch])
        except ScrapeError as exc:
            if exc.status != "blocked":
                state.failures += 1
                state.until = self.clock() + min(BACKOFF_MAX, BACKOFF_START * 2 ** (state.failures - 1))
            raise
        state.failures, state.until = 0, 0.0
        return found

    async def _one(self, tracker: str, scheme: str, hashes: list[bytes]) -> dict[bytes, Swarm]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        async with self._slots:
            await self._pace()
            status = "ok"
            try:
                address = await self._checked_address(tracker)
                async with asyncio.timeout(self.timeout):
                    if scheme == "udp":
                        return await self._udp(address, urlsplit(tracker).port or 80, hashes)
                    return await self._http(tracker, address, hashes)
            except TimeoutError:
                status = "timeout"
                raise ScrapeError("timeout", "tracker did not answer in time") from None
            except ScrapeError as exc:
                status = exc.status
                raise
            except (OSError, httpx.HTTPError) as exc:
                status = "error"
                raise ScrapeError("error", f"{type(exc).__name__}") from None
            finally:
                if self.on_request is not None:
                    self.on_request(scheme, status)

    async def _pace(self) -> None:
        """A global request rate: each request waits for its slot (1 / requests_per_second apart)."""
        async with self._rate_lock:
            now = self.clock()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + 1.0 / self.requests_per_second
        if wait > 0:
            await asyncio.sleep(wait)

    async def _checked_address(self, tracker: str) -> str:
        """Resolve the host once and apply the engine's SSRF policy to the name and every address."""
        host = urlsplit(tracker).hostname or ""
        if not host:
            raise ScrapeError("invalid", "tracker URL has no host")
        literal = parse_ip(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            if not self.allow_private and is_blocked_host(host):
                raise ScrapeError("blocked", "tracker host is local")
            addresses = await asyncio.to_thread(self.resolve or _resolve, host)
        if not addresses:
            raise ScrapeError("error", "tracker host does not resolve")
        parsed = [parse_ip(a) for a in addresses]
        if not self.allow_private and any(ip is None or is_blocked_ip(ip) for ip in parsed):
            raise ScrapeError("blocked", "tracker resolves to a private or reserved address")
        return addresses[0]

    async def _http(self, tracker: str, address: str, hashes: list[bytes]) -> dict[bytes, Swarm]:
        url = scrape_url(tracker)
        if url is None:
            raise ScrapeError("invalid", "tracker has no scrape URL")
        parts = urlsplit(url)
        headers = {}
        if parts.scheme == "http":  # connect to the checked address; https keeps the name for TLS
            host = f"[{address}]" if ":" in address else address
            headers["Host"] = parts.netloc
            url = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or 80}"))
        query = "&".join(f"info_hash={quote_from_bytes(h)}" for h in hashes)
        url = f"{url}{'&' if '?' in url else '?'}{query}"
        async with self.http.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise ScrapeError("error", f"HTTP {response.status_code}")
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise ScrapeError("invalid", "scrape answer too large")
        return parse_http_scrape(body, hashes)

    async def _udp(self, address: str, port: int, hashes: list[bytes]) -> dict[bytes, Swarm]:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        transport, protocol = await loop.create_datagram_endpoint(
            _Datagrams, remote_addr=(address, port), family=family
        )
        try:
            tid = int.from_bytes(os.urandom(4), "big")
            transport.sendto(struct.pack(">QII", UDP_MAGIC, 0, tid))
            answer = await protocol.next()
            if len(answer) < 16 or struct.unpack(">II", answer[:8]) != (0, tid):
                raise ScrapeError("invalid", "bad UDP connect answer")
            (connection_id,) = struct.unpack(">Q", answer[8:16])
            tid = int.from_bytes(os.urandom(4), "big")
            transport.sendto(struct.pack(">QII", connection_id, 2, tid) + b"".join(hashes))
            answer = await protocol.next()
            if len(answer) < 8 + 12 * len(hashes) or struct.unpack(">II", answer[:8]) != (2, tid):
                raise ScrapeError("invalid", "bad UDP scrape answer")
            found = {}
            for n, info_hash in enumerate(hashes):
                seeders, _completed, leechers = struct.unpack(">III", answer[8 + 12 * n : 20 + 12 * n])
                found[info_hash] = Swarm(seeders, leechers)
            return found
        finally:
            transport.close()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self._queue.full():
            self._queue.put_nowait(data[:4096])

    def error_received(self, exc: Exception) -> None:
        if not self._queue.full():
            self._queue.put_nowait(b"")

    async def next(self) -> bytes:
        return await self._queue.get()


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except socket.gaierror:
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
