"""Bounded, briefly cached probes of what a decision needs: the audit database and the model.

Each check runs in a thread of its own; the caller waits at most `timeout_s`. A check still
running from an earlier probe (a stalled database never answers) is not started again: it is
reported as stuck until it returns, so a stall costs one thread, not one per request. A result is
reused for `cache_s`, so App Service's, a load balancer's and Kubernetes' probes together cost at
most one round trip to the database every `cache_s` per worker. When the dependency answers
again, the next probe says so: recovery needs no restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

log = logging.getLogger("api.readiness")

Check = Callable[[], bool]


@dataclass(frozen=True)
class ProbeResult:
    """Names of the failing checks, each with why ("unreachable", "stuck", "failed")."""

    failing: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failing

    def detail(self) -> str:
        return "; ".join(f"{name} {why}" for name, why in sorted(self.failing.items()))


class Probe:
    """Runs named checks with a bound on the wait and a cache of the last result."""

    def __init__(self, checks: Mapping[str, Check], timeout_s: float, cache_s: float) -> None:
        self.checks = dict(checks)
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self._pool = ThreadPoolExecutor(len(self.checks) or 1, thread_name_prefix="probe")
        self._running: dict[str, Future[bool]] = {}
        self._last: ProbeResult | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def result(self) -> ProbeResult:
        async with self._lock:  # concurrent probes share one round of checks
            if self._last is not None and time.monotonic() - self._at < self.cache_s:
                return self._last
            result = await self._run()
            if self._last is None or result.failing.keys() != self._last.failing.keys():
                if result.ok:
                    log.info("dependencies ready")
                else:
                    log.warning("not ready: %s", result.detail())
            self._last, self._at = result, time.monotonic()
            return result

    async def _run(self) -> ProbeResult:
        futures: dict[str, Future[bool]] = {}
        stuck: dict[str, str] = {}
        for name, check in self.checks.items():
            running = self._running.get(name)
            if running is not None and not running.done():
                stuck[name] = "stuck"  # still waiting on an earlier probe
                continue
            futures[name] = self._running[name] = self._pool.submit(check)
        if futures:
            waiting = [asyncio.wrap_future(f) for f in futures.values()]
            await asyncio.wait(waiting, timeout=self.timeout_s)
        failing = dict(stuck)
        for name, future in futures.items():
            if not future.done():
                failing[name] = "stuck"
            elif future.exception() is not None or not future.result():
                failing[name] = "unreachable" if name == "database" else "failed"
        return ProbeResult(failing)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
