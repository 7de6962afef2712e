"""Rate limiting: in-memory token bucket, Redis fixed window, and the circuit breaker that keeps
a failing Redis (down or stalled) from slowing the API, with its recovery."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import pytest

from api.ratelimit import CircuitBreaker, MemoryLimiter, NoLimit, RedisLimiter, make_limiter
from tests.services import RedisServer, own_redis, redis_url


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


def test_redis_down_limits_in_memory() -> None:
    """Nothing listens: the limit still holds, counted in this worker's memory."""

    async def run() -> list[bool]:
        limiter = RedisLimiter("redis://127.0.0.1:1/0", per_minute=1)
        try:
            return [(await limiter.hit("alice")).allowed for _ in range(2)]
        finally:
            await limiter.close()

    assert asyncio.run(run()) == [True, False]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker_lines(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.levelname} {r.getMessage()}" for r in records if r.name == "api.ratelimit"]


def test_breaker_opens_after_failures_in_a_row_and_says_it_once(
    api_records: list[logging.LogRecord],
) -> None:
    clock = Clock()
    changes: list[str] = []
    breaker = CircuitBreaker(3, 5.0, "store", clock, changes.append)
    breaker.failure(breaker.ticket(), "TimeoutError")
    breaker.success(breaker.ticket())  # not in a row: counting starts again
    in_flight = [breaker.ticket() for _ in range(5)]  # all sent before it opens
    for ticket in in_flight:
        breaker.failure(ticket, "TimeoutError")
    assert breaker.state == "open"
    assert [breaker.ticket() for _ in range(100)] == ["skip"] * 100
    clock.now += 4.9
    assert breaker.ticket() == "skip"
    clock.now += 0.1
    trial = breaker.ticket()
    assert trial == "trial"
    assert breaker.ticket() == "skip"  # one trial at a time
    breaker.failure(trial, "TimeoutError")  # still down: another cool-down, no new line
    assert breaker.ticket() == "skip"
    clock.now += 5.0
    trial = breaker.ticket()
    breaker.abandon(trial)  # the caller went away: the next call may try
    trial = breaker.ticket()
    assert trial == "trial"
    breaker.success(trial)
    assert breaker.state == "closed"
    assert breaker.ticket() == "call"
    assert changes == ["open", "closed"]
    assert breaker_lines(api_records) == [
        "ERROR store unavailable (TimeoutError, 3 failures in a row): limiting in memory per "
        "worker, next try in 5 s",
        "WARNING store recovered: back in use",
    ]


Fault = Callable[[RedisServer], None]
FAULTS: dict[str, tuple[Fault, Fault]] = {
    # nothing listens any more: connections are refused at once
    "down": (RedisServer.stop, RedisServer.start),
    # the process is frozen: connections are accepted, nothing is ever answered
    "stalled": (RedisServer.pause, RedisServer.resume),
}


@pytest.mark.redis
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_redis_fault_and_recovery(fault: str, api_records: list[logging.LogRecord]) -> None:
    """A throwaway redis-server (never the machine's) goes down or stalls, then comes back:
    after 3 failed calls Redis is left alone, the limit holds in memory, one line says so, and
    one line says it is back once it answers again (no restart)."""
    break_it, mend_it = FAULTS[fault]
    clock = Clock()
    prefix = f"test-{uuid.uuid4().hex}"

    async def run(server: RedisServer) -> tuple[int, list[bool], str | None]:
        limiter = RedisLimiter(
            server.url, per_minute=5, prefix=prefix, timeout_s=0.1, failures=3,
            cooldown_s=5.0, clock=clock,
        )  # fmt: skip
        calls = 0
        count = limiter._count

        async def counted(name: str) -> int:
            nonlocal calls
            calls += 1
            return await count(name)

        limiter._count = counted  # type: ignore[method-assign]
        try:
            assert (await limiter.hit("alice")).allowed
            assert calls == 1
            break_it(server)
            during = [(await limiter.hit("alice")).allowed for _ in range(20)]
            assert limiter.breaker.state == "open"
            assert calls == 1 + 3  # only the calls before it opened reached Redis
            clock.now += 5.0
            assert (await limiter.hit("bob")).allowed  # the trial: still broken
            assert calls == 5
            assert limiter.breaker.state == "open"
            mend_it(server)
            assert (await limiter.hit("bob")).allowed  # within the cool-down: not tried
            assert calls == 5
            clock.now += 5.0
            assert (await limiter.hit("carol")).allowed  # the trial: it answers
            assert limiter.breaker.state == "closed"
            assert (await limiter.hit("carol")).allowed
            assert calls == 7
            window = [k async for k in limiter.client.scan_iter(f"{prefix}:carol:*")]
            counted_in_redis = await limiter.client.get(window[0]) if window else None
            return calls, during, counted_in_redis.decode() if counted_in_redis else None
        finally:
            keys = [k async for k in limiter.client.scan_iter(f"{prefix}:*")]
            if keys:
                await limiter.client.delete(*keys)
            await limiter.close()

    with own_redis() as server:
        _calls, during, in_redis = asyncio.run(run(server))
    # The limit (5 a minute) held during the outage, counted in this worker's memory.
    assert during == [True] * 5 + [False] * 15
    assert in_redis == "2"  # back in Redis after the recovery
    lines = breaker_lines(api_records)
    assert len(lines) == 2, lines
    assert lines[0].startswith("ERROR rate limit store (Redis) unavailable (")
    assert lines[1] == "WARNING rate limit store (Redis) recovered: back in use"
