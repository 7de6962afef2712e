"""Request ids, one JSON log line per request and Prometheus metrics, as one pure ASGI
middleware (cheaper than BaseHTTPMiddleware). Logs carry the route template, never the path:
no client id or other personal data reaches the logs."""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import time
from itertools import count
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()  # ASGI header names are lower-case bytes
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_QUALIFIED = re.compile(r"^(?:\w+\.)+(\w+: )")

access_log = logging.getLogger("api.access")


class RequestIds:
    """Request ids unique across workers and restarts, without a uuid4 (an os.urandom call)
    per request: 64 random bits drawn once per process (again in a forked child), then a
    64-bit counter; 32 hex digits, as a uuid4's hex."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


request_ids = RequestIds()


def configure_logging() -> None:
    """JSON lines on stderr for the api.* loggers (idempotent)."""
    logger = logging.getLogger("api")
    if not any(getattr(h, "_api_json", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._api_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        else:
            payload["message"] = record.getMessage()
        return orjson.dumps(payload).decode()


class Metrics:
    """The app's own registry, so several apps (tests) never collide.

    Under gunicorn (api/server.py sets PROMETHEUS_MULTIPROC_DIR before the workers start) every
    worker writes its values to files in that folder and a scrape, whichever worker answers it,
    adds up those of every worker: counters and histograms are summed, gauges are per live
    worker (the cache is ready when it is in every worker: min; the limiter is degraded when it
    is in any: max)."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "api_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "api_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
            registry=self.registry,
        )
        self.cache_ready = Gauge(
            "api_batch_cache_ready",
            "1 when every stored client is precomputed",
            multiprocess_mode="livemin",
            registry=self.registry,
        )
        self.ratelimit_degraded = Gauge(
            "api_ratelimit_store_degraded",
            "1 while the rate limiter's breaker keeps Redis out (limits counted per worker)",
            multiprocess_mode="livemax",
            registry=self.registry,
        )
        self.audit_failures = Counter(
            "api_audit_failures",
            "decisions refused because the audit log failed",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The Prometheus text of this process, or of every worker in multiprocess mode."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry)


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, log_requests: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests
        # the metrics' children per label values (a few dozen): ``labels()`` takes a lock and
        # builds its key on every call
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, _one_line_startup_failure(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _incoming_request_id(scope) or request_ids.next()
        scope["state"] = {**(scope.get("state") or {}), "request_id": request_id}
        status = 500
        header = (_REQUEST_ID_KEY, request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            key = (scope["method"], template, status)
            counter = self._counts.get(key)
            if counter is None:
                counter = self._counts[key] = self.metrics.requests.labels(
                    key[0], template, str(status)
                )
            counter.inc()
            latency = self._latencies.get(template)
            if latency is None:
                latency = self._latencies[template] = self.metrics.latency.labels(template)
            latency.observe(elapsed)
            if self.log_requests:
                access_log.info(
                    "request",
                    extra={
                        "fields": {
                            "request_id": request_id,
                            "method": scope["method"],
                            "route": template,
                            "status": status,
                            "latency_ms": round(elapsed * 1000, 3),
                        }
                    },
                )


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _REQUEST_ID_KEY:
            candidate = value.decode("latin-1")
            return candidate if _VALID_ID.match(candidate) else None
    return None


def _one_line_startup_failure(send: Send) -> Send:
    """Servers print the lifespan failure message; make it the exception's one-line reason
    instead of a traceback."""

    async def wrapper(message: Message) -> None:
        if message["type"] == "lifespan.startup.failed" and message.get("message"):
            lines = [line for line in str(message["message"]).strip().splitlines() if line]
            reason = lines[-1] if lines else "startup failed"
            reason = _QUALIFIED.sub(r"\1", reason)  # scoring.errors.BundleError -> BundleError
            message = {**message, "message": f"API cannot start: {reason}"}
        await send(message)

    return wrapper
