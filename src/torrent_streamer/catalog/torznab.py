"""Torznab (Jackett/Prowlarr) client: concurrent fan-out, per-indexer timeout, safe XML, caching, pinned egress.

    TorznabError            (an indexer answered, but not with usable Torznab)
    ├── IndexerUnavailable  (no answer: DNS failure, non-200 status, oversized body)
    └── BlockedAddress      (the indexer resolves to a private/loopback address: SSRF refused)

Every connection (the first request and each redirect hop) goes through ``PinnedBackend``: the host is
resolved once, every address is checked, and the socket connects to a checked address, so a second DNS
answer (DNS rebinding) is never asked for. Host header, TLS SNI and certificate checks keep the host name.

A failing indexer never fails a search: its outcome (``ok``, ``cached``, ``timeout``, ``error``,
``invalid``, ``blocked``) is reported next to the results. XML is parsed by defusedxml only;
the standard library's ElementTree is imported for its types and parse error.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import socket
import xml.etree.ElementTree as ET  # nosec B405  # only the Element type and ParseError; defusedxml parses
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpcore
import httpx
import structlog
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from redis.asyncio import Redis

from torrent_streamer.catalog.magnet import MagnetError, build_magnet, normalise_btih, parse_magnet
from torrent_streamer.catalog.query import clean_text
from torrent_streamer.core.clock import Clock

log = structlog.get_logger("torrent_streamer.catalog.torznab")

TORZNAB_NS = "{http://torznab.com/schemas/2015/feed}"
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 3
MAX_RESULTS_PER_INDEXER = 100
CACHE_TTL_SECONDS = 300
_NEWZNAB_CATEGORIES = {"2": "movies", "3": "music", "4": "software", "5": "tv", "7": "books"}


class TorznabError(Exception):
    """The indexer's answer is not usable Torznab (garbage, DTD/entities, wrong shape)."""


class IndexerUnavailable(TorznabError):
    """The indexer gave no usable answer at the HTTP level."""


class BlockedAddress(TorznabError):
    """The indexer's host resolves to an address the service refuses to contact (SSRF)."""


@dataclass(frozen=True)
class IndexerTarget:
    id: str
    name: str
    url: str
    api_key: str | None
    timeout: float


@dataclass(frozen=True)
class TorznabResult:
    title: str
    size_bytes: int
    info_hash: str
    magnet: str
    seeders: int
    leechers: int
    category: str
    indexer: str


@dataclass(frozen=True)
class IndexerOutcome:
    name: str
    status: str
    results: int


def validate_indexer_url(url: str) -> str:
    """http(s) with a host, no credentials or fragment; raises ``ValueError``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("indexer URLs must use http or https")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise ValueError("indexer URLs need a host and must not embed credentials")
    if parts.fragment:
        raise ValueError("indexer URLs must not have a fragment")
    return url


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Global unicast only; loopback and private ranges too when ``allow_private`` (tests, home set-ups).

    Link-local (cloud metadata at 169.254.169.254), multicast, unspecified and reserved are never allowed.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    return ip.is_global or (allow_private and (ip.is_loopback or ip.is_private))


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def checked_addresses(host: str, port: int, *, allow_private: bool, resolver: Resolver) -> list[str]:
    """Resolve ``host`` once; every address must pass ``address_allowed`` or the host is refused."""
    try:
        addresses = await resolver(host, port)
    except OSError:
        raise IndexerUnavailable("the indexer host does not resolve") from None
    if not addresses or not all(address_allowed(a, allow_private=allow_private) for a in addresses):
        raise BlockedAddress("the indexer resolves to a refused address")
    return list(dict.fromkeys(addresses))


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses checked in the same call (no rebinding)."""

    def __init__(self, *, allow_private: bool, resolver: Resolver = system_resolver) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private, self._resolver = allow_private, resolver

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # fmt: skip
        addresses = await checked_addresses(host, port, allow_private=self._allow_private, resolver=self._resolver)
        error: httpcore.ConnectError | None = None
        for address in addresses:  # the checked literal: the inner backend does no name lookup of its own
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError("no address")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are not indexers")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connection pool connects through ``PinnedBackend``."""

    def __init__(self, *, allow_private: bool, limits: httpx.Limits, resolver: Resolver = system_resolver) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(  # replaces the pool built above (same options, our backend)
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(allow_private=allow_private, resolver=resolver),
        )


def indexer_http_client(
    *, allow_private: bool, user_agent: str, resolver: Resolver = system_resolver
) -> httpx.AsyncClient:
    """The one client for indexers: pinned egress, bounded redirects (each hop pinned and checked)."""
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=8)
    return httpx.AsyncClient(
        transport=PinnedTransport(allow_private=allow_private, limits=limits, resolver=resolver),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=httpx.Timeout(10.0, connect=3.0),
        headers={"User-Agent": user_agent, "Accept": "application/rss+xml, application/xml"},
        trust_env=False,
    )


def _attrs(item: ET.Element) -> dict[str, str]:
    """``torznab:attr`` name → value; for repeated names (``category``) the first one wins."""
    found: dict[str, str] = {}
    for attr in item.iter(f"{TORZNAB_NS}attr"):
        if attr.get("name"):
            found.setdefault(str(attr.get("name")).lower(), str(attr.get("value", "")))
    return found


def _int(value: str | None, default: int = 0) -> int:
    try:
        return max(0, int(value)) if value else default
    except ValueError:
        return default


def _normalise(item: ET.Element, indexer: str) -> TorznabResult | None:
    attrs = _attrs(item)
    title = clean_text((item.findtext("title") or "").strip())[:300]
    enclosure = item.find("enclosure")
    candidates = [
        attrs.get("magneturl"),
        item.findtext("link"),
        enclosure.get("url") if enclosure is not None else None,
    ]
    magnet = next((c.strip() for c in candidates if c and c.strip().startswith("magnet:?")), None)
    info_hash: str | None = None
    try:
        if attrs.get("infohash"):
            info_hash = normalise_btih(attrs["infohash"].strip())
        elif magnet:
            parsed = parse_magnet(magnet)
            info_hash = parsed.info_hash_v1 or parsed.info_hash_v2
        if magnet is None and info_hash is not None and len(info_hash) == 40:
            magnet = build_magnet(info_hash, title)
        elif magnet is not None:
            parse_magnet(magnet)
    except MagnetError:
        return None
    if not title or info_hash is None or magnet is None:
        return None
    size = _int(
        attrs.get("size") or item.findtext("size") or (enclosure.get("length") if enclosure is not None else None)
    )
    category_code = (attrs.get("category") or item.findtext("category") or "").strip()
    return TorznabResult(
        title=title,
        size_bytes=size,
        info_hash=info_hash,
        magnet=magnet,
        seeders=_int(attrs.get("seeders")),
        leechers=max(0, _int(attrs.get("peers")) - _int(attrs.get("seeders"))),
        category=_NEWZNAB_CATEGORIES.get(category_code[:1], "other") if len(category_code) == 4 else "other",
        indexer=indexer,
    )


def parse_torznab(payload: bytes, indexer: str) -> list[TorznabResult]:
    """Parse a Torznab RSS answer; DTDs, entities and external references are refused."""
    try:
        root = fromstring(payload, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ET.ParseError, ValueError, LookupError) as exc:  # LookupError: unknown encoding
        raise TorznabError(f"unusable XML ({type(exc).__name__})") from None
    if root.tag == "error":
        raise TorznabError("the indexer returned a Torznab error")
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise TorznabError("not a Torznab RSS feed")
    results: list[TorznabResult] = []
    for item in channel.findall("item")[: MAX_RESULTS_PER_INDEXER * 2]:
        normalised = _normalise(item, indexer)
        if normalised is not None:
            results.append(normalised)
    return results[:MAX_RESULTS_PER_INDEXER]


class ResultCache(Protocol):
    async def get(self, key: str) -> list[TorznabResult] | None: ...
    async def set(self, key: str, results: list[TorznabResult]) -> None: ...


class MemoryCache:
    """In-process TTL cache with a size bound (oldest entries evicted first)."""

    def __init__(self, clock: Clock, ttl: float = CACHE_TTL_SECONDS, max_entries: int = 512) -> None:
        self._clock, self._ttl, self._max = clock, ttl, max_entries
        self._items: OrderedDict[str, tuple[float, list[TorznabResult]]] = OrderedDict()

    async def get(self, key: str) -> list[TorznabResult] | None:
        found = self._items.get(key)
        if found is None or found[0] <= self._clock.now().timestamp():
            self._items.pop(key, None)
            return None
        return found[1]

    async def set(self, key: str, results: list[TorznabResult]) -> None:
        self._items[key] = (self._clock.now().timestamp() + self._ttl, results)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)


class RedisCache:
    """Shared cache in Redis (JSON, expiring keys); a Redis failure is a cache miss."""

    def __init__(self, redis: Redis, prefix: str, ttl: int = CACHE_TTL_SECONDS) -> None:
        self._redis, self._prefix, self._ttl = redis, f"{prefix}:torznab:", ttl

    async def get(self, key: str) -> list[TorznabResult] | None:
        try:
            raw = await self._redis.get(self._prefix + key)
        except Exception:  # noqa: BLE001 - the cache is an optimisation; Redis down means a miss
            return None
        if raw is None:
            return None
        return [TorznabResult(**item) for item in json.loads(raw)]

    async def set(self, key: str, results: list[TorznabResult]) -> None:
        try:
            await self._redis.set(self._prefix + key, json.dumps([asdict(r) for r in results]), ex=self._ttl)
        except Exception:  # noqa: BLE001 - see get()
            log.warning("torznab_cache_unavailable")


def cache_key(target: IndexerTarget, query: str) -> str:
    material = json.dumps([target.id, target.url, query])
    return hashlib.sha256(material.encode()).hexdigest()


class TorznabClient:
    """Searches indexers over its own pinned, checked HTTP client (``indexer_http_client``); ``aclose`` it."""

    def __init__(
        self, cache: ResultCache, *, allow_private: bool, user_agent: str = "torrent-streamer",
        resolver: Resolver = system_resolver,
    ) -> None:  # fmt: skip
        self._cache = cache
        self._http = indexer_http_client(allow_private=allow_private, user_agent=user_agent, resolver=resolver)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _fetch(self, target: IndexerTarget, query: str) -> list[TorznabResult]:
        params = {"t": "search", "q": query, "limit": str(MAX_RESULTS_PER_INDEXER)}
        if target.api_key:
            params["apikey"] = target.api_key
        async with self._http.stream("GET", target.url, params=params) as response:
            if response.status_code != 200:
                raise IndexerUnavailable(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise IndexerUnavailable("the answer is too large")
        return parse_torznab(bytes(body), target.name)

    async def _one(self, target: IndexerTarget, query: str) -> tuple[list[TorznabResult], IndexerOutcome]:
        key = cache_key(target, query)
        cached = await self._cache.get(key)
        if cached is not None:
            return cached, IndexerOutcome(target.name, "cached", len(cached))
        try:
            async with asyncio.timeout(target.timeout):
                results = await self._fetch(target, query)
        except TimeoutError:
            status = "timeout"
        except BlockedAddress:
            status = "blocked"
        except IndexerUnavailable:
            status = "error"
        except TorznabError:
            status = "invalid"
        except httpx.HTTPError as exc:
            log.info("indexer_failed", indexer=target.name, error=type(exc).__name__)
            status = "error"
        else:
            await self._cache.set(key, results)
            return results, IndexerOutcome(target.name, "ok", len(results))
        log.info("indexer_degraded", indexer=target.name, status=status)
        return [], IndexerOutcome(target.name, status, 0)

    async def test(self, target: IndexerTarget) -> bool:
        """A live search (never the cache) for the "test indexer" action: usable answer or not, nothing more."""
        try:
            async with asyncio.timeout(target.timeout):
                await self._fetch(target, "test")
        except (TimeoutError, TorznabError, httpx.HTTPError) as exc:
            log.info("indexer_test_failed", indexer=target.name, error=type(exc).__name__)
            return False
        return True

    async def search(
        self, targets: list[IndexerTarget], query: str
    ) -> tuple[list[TorznabResult], list[IndexerOutcome]]:
        """Every indexer at once; results de-duplicated by info-hash (the most seeded copy wins)."""
        answers = await asyncio.gather(*(self._one(target, query) for target in targets))
        best: dict[str, TorznabResult] = {}
        for results, _ in answers:
            for result in results:
                known = best.get(result.info_hash)
                if known is None or result.seeders > known.seeders:
                    best[result.info_hash] = result
        merged = sorted(best.values(), key=lambda r: (-r.seeders, r.title))
        return merged, [outcome for _, outcome in answers]
