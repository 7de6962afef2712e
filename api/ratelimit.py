"""Per-key rate limiting: a token bucket in memory (one worker) or a fixed window in Redis
(shared by workers and instances)."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("api.ratelimit")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds, >= 1 when refused


class RateLimiter(Protocol):
    async def hit(self, key: str) -> Verdict: ...

    async def close(self) -> None: ...


class NoLimit:
    async def hit(self, key: str) -> Verdict:
        return Verdict(True)

    async def close(self) -> None:
        return None


class MemoryLimiter:
    """Token bucket per key: ``per_minute`` tokens, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._now = time.monotonic

    async def hit(self, key: str) -> Verdict:
        return self.hit_sync(key)

    def hit_sync(self, key: str) -> Verdict:
        now = self._now()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return Verdict(True)
            self._buckets[key] = (tokens, now)
        return Verdict(False, max(1, math.ceil((1.0 - tokens) / self.rate)))

    async def close(self) -> None:
        return None


class RedisLimiter:
    """Fixed one-minute window per key, counted with INCR in Redis. Fails open (and logs) when
    Redis is unreachable: an outage of the limiter must not take the API down."""

    def __init__(self, url: str, per_minute: int, prefix: str = "ratelimit") -> None:
        from redis import asyncio as aioredis

        self.limit = per_minute
        self.prefix = prefix
        self.client = aioredis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    async def hit(self, key: str) -> Verdict:
        now = time.time()
        window = int(now // 60)
        name = f"{self.prefix}:{key}:{window}"
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, 120)
            count, _ = await pipe.execute()
        except Exception as exc:
            log.warning("rate limiter store unavailable: %s", type(exc).__name__)
            return Verdict(True)
        if int(count) <= self.limit:
            return Verdict(True)
        return Verdict(False, max(1, math.ceil((window + 1) * 60 - now)))

    async def close(self) -> None:
        await self.client.aclose()


def make_limiter(per_minute: int, redis_url: str | None, prefix: str = "ratelimit") -> RateLimiter:
    if per_minute <= 0:
        return NoLimit()
    if redis_url:
        return RedisLimiter(redis_url, per_minute, prefix)
    return MemoryLimiter(per_minute)
