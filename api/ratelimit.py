"""Per-key rate limiting: a token bucket in memory (one worker) or a fixed window in Redis
(shared by workers and instances), behind a circuit breaker.

Redis failing (down, or stalled: no answer) must neither take the API down nor slow it: every
call is bounded by REDIS_TIMEOUT_S (connect and socket, no retry), and after
REDIS_BREAKER_FAILURES failures in a row the breaker opens: for REDIS_BREAKER_COOLDOWN_S the
limiter does not call Redis at all and counts in memory instead, per worker (the limit still
holds, per worker rather than shared). Then one call tries Redis again: success closes the
breaker, failure keeps it open for another cool-down. One log line when it opens and one when it
closes, never one per request."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

log = logging.getLogger("api.ratelimit")

State = Literal["closed", "open"]


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


Ticket = Literal["skip", "call", "trial"]


class CircuitBreaker:
    """Closed: every call goes to the store. After `failures` failures in a row it opens: no
    call for `cooldown_s`, then a single trial call at a time; its success closes the breaker,
    its failure restarts the cool-down. Calls already in flight when it opened do not count.
    Used from one event loop, so no lock is needed."""

    def __init__(
        self,
        failures: int,
        cooldown_s: float,
        what: str,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[State], None] | None = None,
    ) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self.what = what
        self.state: State = "closed"
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._retry_at = 0.0
        self._trial = False

    def ticket(self) -> Ticket:
        """Whether this call may use the store ("call", or "trial" while open), or not."""
        if self.state == "closed":
            return "call"
        if self._trial or self._clock() < self._retry_at:
            return "skip"
        self._trial = True
        return "trial"

    def success(self, ticket: Ticket) -> None:
        if ticket == "trial":
            self._trial = False
            self._failures = 0
            self._change("closed")
            log.warning("%s recovered: back in use", self.what)
        elif self.state == "closed":
            self._failures = 0

    def failure(self, ticket: Ticket, reason: str) -> None:
        if ticket == "trial":
            self._trial = False
            self._retry_at = self._clock() + self.cooldown_s
            return
        if self.state == "open":
            return
        self._failures += 1
        if self._failures >= self.threshold:
            self._retry_at = self._clock() + self.cooldown_s
            self._change("open")
            log.error(
                "%s unavailable (%s, %d failures in a row): limiting in memory per worker, "
                "next try in %.0f s",
                self.what,
                reason,
                self._failures,
                self.cooldown_s,
            )

    def abandon(self, ticket: Ticket) -> None:
        """The call was cancelled before it told anything (the client went away)."""
        if ticket == "trial":
            self._trial = False

    def _change(self, state: State) -> None:
        self.state = state
        if self._on_change is not None:
            self._on_change(state)


class RedisLimiter:
    """Fixed one-minute window per key, counted with INCR in Redis; in memory per worker while
    the breaker is open (see the module's docstring)."""

    def __init__(
        self,
        url: str,
        per_minute: int,
        prefix: str = "ratelimit",
        *,
        timeout_s: float = 0.25,
        failures: int = 3,
        cooldown_s: float = 5.0,
        on_change: Callable[[State], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from redis import asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.limit = per_minute
        self.prefix = prefix
        # No retry: redis-py's default retries three times with back-off, which turns one
        # timeout into seconds. The breaker decides when to try again.
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self.breaker = CircuitBreaker(
            failures, cooldown_s, "rate limit store (Redis)", clock, on_change
        )
        self.fallback = MemoryLimiter(per_minute)

    async def hit(self, key: str) -> Verdict:
        ticket = self.breaker.ticket()
        if ticket == "skip":
            return self.fallback.hit_sync(key)
        now = time.time()
        window = int(now // 60)
        try:
            count = await self._count(f"{self.prefix}:{key}:{window}")
        except Exception as exc:  # RedisError, OSError, a timeout: the store is not usable
            self.breaker.failure(ticket, type(exc).__name__)
            return self.fallback.hit_sync(key)
        except BaseException:
            self.breaker.abandon(ticket)
            raise
        self.breaker.success(ticket)
        if count <= self.limit:
            return Verdict(True)
        return Verdict(False, max(1, math.ceil((window + 1) * 60 - now)))

    async def _count(self, name: str) -> int:
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(name)
        pipe.expire(name, 120)
        count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self.client.aclose()


def make_limiter(
    per_minute: int,
    redis_url: str | None,
    prefix: str = "ratelimit",
    *,
    timeout_s: float = 0.25,
    failures: int = 3,
    cooldown_s: float = 5.0,
    on_change: Callable[[State], None] | None = None,
) -> RateLimiter:
    if per_minute <= 0:
        return NoLimit()
    if redis_url:
        return RedisLimiter(
            redis_url,
            per_minute,
            prefix,
            timeout_s=timeout_s,
            failures=failures,
            cooldown_s=cooldown_s,
            on_change=on_change,
        )
    return MemoryLimiter(per_minute)
