"""This node in a cluster: holder leases in Redis, batched status publication, releasing torrents
another node holds, and storing each torrent's metadata in the database for the others.

One torrent, one swarm: the node serving a torrent's streams holds a lease
(``<prefix>:cluster:holder:<info_hash>`` = node name, renewed every tick, lapsing after
``TS_CLUSTER_LEASE_SECONDS``) and publishes the torrent's status beside it. A node that added a
torrent for some other reason (an add request, a stream-URL request) lets it go once its metadata
is stored, it has no readers, and another node holds the lease. Without ``TS_CLUSTER_ENABLED``
only the metadata is stored, and status is the local engine's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from torrent_streamer.cluster import repository
from torrent_streamer.cluster.status import decode, encode
from torrent_streamer.core.state import Services
from torrent_streamer.engine import Engine, EngineError, TorrentNotFound, TorrentStatus

log = structlog.get_logger("torrent_streamer.cluster")

CLUSTER_KEY = "cluster"
RELEASE_AFTER_TICKS = 2  # a torrent is seen this many ticks before it may be released
ORPHAN_AFTER_TICKS = 10  # ... and before it counts as orphaned (its add may not have committed yet)

# Renew the lease only when it is still ours; 1 renewed, 0 someone else's or lapsed.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class ClusterNode:
    def __init__(self, services: Services, engine: Engine) -> None:
        settings = services.settings
        self.name = settings.node_name
        self._services = services
        self._engine = engine
        self._redis: Redis | None = services.redis if settings.cluster_enabled else None
        self._prefix = f"{settings.redis_key_prefix}:cluster"
        self._lease_ms = int(settings.cluster_lease_seconds * 1000)
        self._stored: set[str] = set()  # info-hashes whose metadata the database holds
        self._seen: dict[str, int] = {}
        self._renew = self._redis.register_script(_RENEW) if self._redis is not None else None

    @property
    def enabled(self) -> bool:
        return self._redis is not None

    def _holder_key(self, info_hash: str) -> str:
        return f"{self._prefix}:holder:{info_hash}"

    def _status_key(self, info_hash: str) -> str:
        return f"{self._prefix}:status:{info_hash}"

    # -- what routes call ---------------------------------------------------------------
    async def claim(self, info_hash: str) -> None:
        """This node serves the torrent now: take the lease (the balancer sends its streams here)."""
        if self._redis is None:
            return
        try:
            await self._redis.set(self._holder_key(info_hash), self.name, px=self._lease_ms)
        except RedisError as exc:  # streaming goes on; the next tick retries
            log.warning("cluster_claim_failed", info_hash=info_hash, error=type(exc).__name__)

    async def statuses(self, info_hashes: Iterable[str]) -> dict[str, TorrentStatus]:
        """Status of each torrent: the local engine's, else what its holder published (if any)."""
        found: dict[str, TorrentStatus] = {}
        missing: list[str] = []
        for info_hash in info_hashes:
            try:
                found[info_hash] = self._engine.status(info_hash)
            except TorrentNotFound:
                missing.append(info_hash)
        if self._redis is None or not missing:
            return found
        try:
            values = await self._redis.mget([self._status_key(h) for h in missing])
        except RedisError:
            return found
        for info_hash, value in zip(missing, values, strict=True):
            status = decode(value) if value is not None else None
            if status is not None and status.info_hash == info_hash:
                found[info_hash] = status
        return found

    async def status(self, info_hash: str) -> TorrentStatus | None:
        return (await self.statuses([info_hash])).get(info_hash)

    # -- the tick -----------------------------------------------------------------------
    async def tick(self) -> None:
        held = self._engine.list_status()
        current = {s.info_hash for s in held}
        self._seen = {h: self._seen.get(h, 0) + 1 for h in current}
        self._stored &= current
        await self._store_metadata(held)
        if self._redis is not None and self._renew is not None and held:
            held = await self._drop_orphans(held)
            await self._share(self._redis, self._renew, held)

    async def _drop_orphans(self, held: list[TorrentStatus]) -> list[TorrentStatus]:
        """Drop torrents no library holds any more: removed or taken down through another node."""
        async with self._services.sessionmaker() as session:
            known = await repository.existing_torrents(session, [s.info_hash for s in held])
        kept: list[TorrentStatus] = []
        for s in held:
            if s.info_hash not in known and not s.readers and self._seen.get(s.info_hash, 0) > ORPHAN_AFTER_TICKS:
                await self._release(s.info_hash, None)
            else:
                kept.append(s)
        return kept

    async def _store_metadata(self, held: list[TorrentStatus]) -> None:
        todo = [s.info_hash for s in held if s.has_metadata and s.info_hash not in self._stored]
        if not todo:
            return
        now = self._services.clock.now()
        async with self._services.sessionmaker() as session:
            for info_hash in todo:
                with contextlib.suppress(TorrentNotFound):
                    metainfo = self._engine.metainfo(info_hash)
                    if metainfo is not None and await repository.store_metainfo(
                        session, info_hash=info_hash, metainfo=metainfo, now=now
                    ):
                        self._stored.add(info_hash)
            await session.commit()

    async def _share(self, redis: Redis, renew: AsyncScript, held: list[TorrentStatus]) -> None:
        """Renew or take each lease, publish the status of ours, release the others' when idle."""
        async with redis.pipeline(transaction=False) as pipe:
            for s in held:
                await renew(keys=[self._holder_key(s.info_hash)], args=[self.name, self._lease_ms], client=pipe)
                pipe.set(self._holder_key(s.info_hash), self.name, px=self._lease_ms, nx=True)
                pipe.get(self._holder_key(s.info_hash))
            results: list[Any] = await pipe.execute()
        holders = {s.info_hash: results[3 * i + 2] for i, s in enumerate(held)}
        mine = {s.info_hash: s for s in held if holders[s.info_hash] == self.name.encode()}
        if mine:
            async with redis.pipeline(transaction=False) as pipe:
                for s in mine.values():
                    pipe.set(self._status_key(s.info_hash), encode(s), px=self._lease_ms)
                await pipe.execute()
        for s in held:
            if s.info_hash not in mine and self._releasable(s):
                await self._release(s.info_hash, holders[s.info_hash])

    def _releasable(self, status: TorrentStatus) -> bool:
        return (
            status.info_hash in self._stored
            and not status.readers
            and self._seen.get(status.info_hash, 0) > RELEASE_AFTER_TICKS
        )

    async def _release(self, info_hash: str, holder: bytes | None) -> None:
        try:
            await self._engine.remove(info_hash, delete_files=True)
        except (TorrentNotFound, EngineError) as exc:
            log.warning("cluster_release_failed", info_hash=info_hash, error=type(exc).__name__)
            return
        self._stored.discard(info_hash)
        self._seen.pop(info_hash, None)
        log.info("cluster_released", info_hash=info_hash, holder=(holder or b"").decode(errors="replace"))

    async def run(self) -> None:
        interval = self._services.settings.cluster_interval_seconds
        while True:
            try:
                await self.tick()
            except (RedisError, SQLAlchemyError, OSError) as exc:
                log.warning("cluster_tick_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)


@asynccontextmanager
async def cluster_lifespan(services: Services) -> AsyncIterator[None]:
    """Start the tick after the engine; stop it before the engine closes."""
    engine: Engine | None = services.extras.get("engine")
    if engine is None:
        yield
        return
    node = ClusterNode(services, engine)
    services.extras[CLUSTER_KEY] = node
    task = asyncio.create_task(node.run())
    log.info("cluster_started", node=node.name, enabled=node.enabled)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        services.extras.pop(CLUSTER_KEY, None)


def cluster_of(services: Services) -> ClusterNode | None:
    node: ClusterNode | None = services.extras.get(CLUSTER_KEY)
    return node
