"""Concurrency caps of the expensive routes, per worker and per route class (counterfactual
search, on-the-fly SHAP explanation, batch scoring): a class that is full answers 503 with
Retry-After at once instead of queueing, so its CPU-bound work cannot starve the cheap routes
(/score, /predict) sharing the worker. The rate limit counts requests; this bounds cost."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Literal

from fastapi import HTTPException, Request

CostClass = Literal["counterfactual", "explain", "batch"]
CLASSES: tuple[CostClass, ...] = ("counterfactual", "explain", "batch")
RETRY_AFTER_S = 1


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
