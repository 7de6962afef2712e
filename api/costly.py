"""Concurrency caps of the expensive routes, per worker and per route class (counterfactual
search, on-the-fly SHAP explanation, batch scoring): a class that is full answers 503 with
Retry-After at once instead of queueing, so its CPU-bound work cannot starve the cheap routes
(/score, /predict) sharing the worker. The rate limit counts requests; this bounds cost.

The admitted work runs in a thread pool of its own whose threads the kernel schedules at a lower
priority (nice +API_COSTLY_NICE): when a search and the event loop both want a core, the loop
(cheap routes, the audit writer) goes first, instead of waiting behind two CPU-bound searches.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Literal, TypeVar

from fastapi import HTTPException, Request

CostClass = Literal["counterfactual", "explain", "batch"]
CLASSES: tuple[CostClass, ...] = ("counterfactual", "explain", "batch")
RETRY_AFTER_S = 1
MAX_NICE = 19
T = TypeVar("T")
log = logging.getLogger("api.costly")


class Gate:
    """At most `limit` holders at once; entering a full gate fails (no wait)."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self.held >= self.limit:
                raise HTTPException(
                    status_code=503,
                    detail=f"too many {self.name} requests in progress; retry in {RETRY_AFTER_S} s",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            self.held += 1
        try:
            yield
        finally:
            with self._lock:
                self.held -= 1


def gates(limit: int) -> dict[CostClass, Gate]:
    return {name: Gate(name, limit) for name in CLASSES}


def costly(name: CostClass) -> Callable[[Request], AsyncIterator[None]]:
    """A route dependency holding a slot of `name` while the request runs."""

    async def hold(request: Request) -> AsyncIterator[None]:
        services = getattr(request.app.state, "services", None)
        if services is None:
            yield
            return
        with services.gates[name].slot():
            yield

    return hold


def _lower_priority(target: int) -> None:
    """Thread initializer: this thread (Linux: a thread id is a PRIO_PROCESS target) runs at
    nice `target`. An absolute value, fixed when the pool is made: a pool thread is started by
    whichever thread submits (an explanation's slice, by another costly thread) and inherits
    that thread's nice, so a relative step would stack. Elsewhere, or when refused, the thread
    keeps the priority it was given."""
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) != target:
            os.setpriority(os.PRIO_PROCESS, tid, target)
    except (AttributeError, OSError) as exc:
        log.warning("costly threads keep the normal priority: %s", type(exc).__name__)


def costly_nice(nice: int) -> int | None:
    """The nice value of the costly threads: `nice` steps below the calling thread's (the
    worker's), at most MAX_NICE; None when there is no step or no such call (not Linux)."""
    if nice <= 0 or not hasattr(os, "getpriority"):
        return None
    return min(MAX_NICE, os.getpriority(os.PRIO_PROCESS, 0) + nice)


class CostlyPool:
    """The threads that run admitted expensive work, at a lower CPU priority (`nice`)."""

    def __init__(self, limit: int, nice: int, explain_parts: int = 1) -> None:
        # every gate full at once never queues, an explanation's extra forest slices included
        target = costly_nice(nice)
        self._pool = ThreadPoolExecutor(
            max_workers=limit * (len(CLASSES) + explain_parts - 1),
            thread_name_prefix="costly",
            initializer=None if target is None else functools.partial(_lower_priority, target),
        )

    @property
    def executor(self) -> Executor:
        """The pool itself, for work that splits itself over its threads (a forest's slices)."""
        return self._pool

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a costly thread, with the caller's context (trace, request id)."""
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
