"""Rate limiting on the ``limits`` library: in-process by default, shared through Redis.

If Redis is unreachable the limiter stays up and stays safe: it counts in process memory
(each instance enforces the limit on its own) and retries Redis after a short pause,
counting every fallback in ``ts_rate_limit_backend_errors_total``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, RateLimiter
from redis.asyncio import ConnectionPool

from torrent_streamer.core.metrics import Metrics

log = structlog.get_logger("torrent_streamer.ratelimit")


@dataclass(frozen=True)
class LimitResult:
    allowed: bool
    retry_after: float
    remaining: int


class Limiter:
    def __init__(
        self,
        *,
        redis_url: str | None,
        key_prefix: str = "ts",
        metrics: Metrics | None = None,
        retry_seconds: float = 5.0,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.metrics = metrics
        self.retry_seconds = retry_seconds
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._shared: RateLimiter | None = None
        self._shared_storage: Storage | None = None
        self._pool: ConnectionPool | None = None
        if redis_url:
            self._pool = ConnectionPool.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
            self._shared_storage = RedisStorage(
                redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1),
                implementation="redispy",
                key_prefix=f"{key_prefix}:rl",
                wrap_exceptions=True,
                connection_pool=self._pool,  # type: ignore[arg-type]  # limits types options narrowly
            )
            self._shared = MovingWindowRateLimiter(self._shared_storage)
        self._shared_down_until = 0.0

    @property
    def backend(self) -> str:
        return "redis" if self._shared is not None else "memory"

    def _strategy(self) -> tuple[RateLimiter, bool]:
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            return self._shared, True
        return self._memory, False

    async def hit(self, limit: RateLimitItem | str, *identifiers: str, cost: int = 1) -> LimitResult:
        item = parse(limit) if isinstance(limit, str) else limit
        if not self.enabled:
            return LimitResult(True, 0.0, item.amount)
        strategy, shared = self._strategy()
        try:
            return await self._hit(strategy, item, identifiers, cost)
        except Exception as exc:
            if not shared:
                raise
            self._shared_down_until = time.monotonic() + self.retry_seconds
            if self.metrics is not None:
                self.metrics.rate_limit_backend_errors.inc()
            log.warning("rate_limit_backend_unavailable", error=type(exc).__name__, fallback="memory")
            return await self._hit(self._memory, item, identifiers, cost)

    async def _hit(
        self, strategy: RateLimiter, item: RateLimitItem, identifiers: tuple[str, ...], cost: int
    ) -> LimitResult:
        allowed = await strategy.hit(item, *identifiers, cost=cost)
        stats = await strategy.get_window_stats(item, *identifiers)
        retry_after = max(0.0, stats.reset_time - time.time()) if not allowed else 0.0
        return LimitResult(allowed, retry_after, stats.remaining)

    async def clear(self, limit: RateLimitItem | str, *identifiers: str) -> None:
        item = parse(limit) if isinstance(limit, str) else limit
        strategy, _ = self._strategy()
        try:
            await strategy.clear(item, *identifiers)
        except Exception:  # noqa: BLE001 - any shared-store failure falls back to the in-process counters
            await self._memory.clear(item, *identifiers)

    async def check_shared(self) -> bool:
        if self._shared_storage is None:
            return True
        try:
            return bool(await self._shared_storage.check())
        except Exception:  # noqa: BLE001 - whatever the store raised, it is "not reachable" for readiness
            return False

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
