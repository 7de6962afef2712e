"""Rate limiting: in-memory token bucket and Redis fixed window."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from api.ratelimit import MemoryLimiter, NoLimit, RedisLimiter, make_limiter
from tests.services import redis_url


def test_memory_bucket_refuses_over_the_limit_with_retry_after() -> None:
    limiter = MemoryLimiter(per_minute=3)
    verdicts = [limiter.hit_sync("alice") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].retry_after >= 1
    assert limiter.hit_sync("bob").allowed  # per key


def test_memory_bucket_refills() -> None:
    limiter = MemoryLimiter(per_minute=60)
    clock = [1000.0]
    limiter._now = lambda: clock[0]
    for _ in range(60):
        assert limiter.hit_sync("k").allowed
    refused = limiter.hit_sync("k")
    assert not refused.allowed
    assert refused.retry_after == 1
    clock[0] += 1.0
    assert limiter.hit_sync("k").allowed


def test_factory() -> None:
    assert isinstance(make_limiter(0, None), NoLimit)
    assert isinstance(make_limiter(10, None), MemoryLimiter)
    assert asyncio.run(NoLimit().hit("x")).allowed


@pytest.mark.redis
def test_redis_window_is_shared_between_limiters() -> None:
    prefix = f"test-{uuid.uuid4().hex}"

    async def run() -> list[bool]:
        a = RedisLimiter(redis_url(), per_minute=5, prefix=prefix)
        b = RedisLimiter(redis_url(), per_minute=5, prefix=prefix)
        try:
            results = [(await (a if i % 2 else b).hit("alice")) for i in range(7)]
            assert results[-1].retry_after >= 1
            return [r.allowed for r in results]
        finally:
            keys = [k async for k in a.client.scan_iter(f"{prefix}:*")]
            if keys:
                await a.client.delete(*keys)
            await a.close()
            await b.close()

    allowed = asyncio.run(run())
    # a minute boundary inside the test would reset the window: at least 5 pass, some refused
    assert allowed[:5] == [True] * 5
    assert not all(allowed)


def test_redis_down_fails_open() -> None:
    async def run() -> bool:
        limiter = RedisLimiter("redis://127.0.0.1:1/0", per_minute=1)
        try:
            return (await limiter.hit("alice")).allowed and (await limiter.hit("alice")).allowed
        finally:
            await limiter.close()

    assert asyncio.run(run())
