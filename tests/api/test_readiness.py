"""Bounded, cached readiness probes: a stuck check answers in the bound, is not piled up, and the
next probe after it answers again says ready (no restart); /health and /ready through the app."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from api.audit import AuditLog, DatabaseTimeouts, make_engine
from api.readiness import Probe
from tests.api.conftest import services_of
from tests.services import postgres_url


class Gate:
    """A check that blocks while the gate is closed (a stalled database), counting its calls."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        self.open.wait()
        return True


def test_a_stuck_check_answers_within_the_bound_and_recovers() -> None:
    gate = Gate()
    probe = Probe({"database": gate, "model": lambda: True}, timeout_s=0.2, cache_s=0)

    async def scenario() -> None:
        assert (await probe.result()).ok
        gate.open.clear()
        started = time.monotonic()
        stuck = await probe.result()
        assert time.monotonic() - started < 1.0
        assert stuck.failing == {"database": "stuck"}
        again = await probe.result()  # the first call still hangs: not started again
        assert again.failing == {"database": "stuck"}
        assert gate.calls == 2
        gate.open.set()
        await asyncio.sleep(0.05)
        healed = await probe.result()
        assert healed.ok, healed.detail()

    asyncio.run(scenario())
    probe.close()


def test_failures_are_named_and_results_are_cached() -> None:
    calls: list[int] = []

    def database() -> bool:
        calls.append(1)
        return False

    def model() -> bool:
        raise RuntimeError("boom")

    probe = Probe({"database": database, "model": model}, timeout_s=1, cache_s=60)

    async def scenario() -> None:
        first = await probe.result()
        assert first.failing == {"database": "unreachable", "model": "failed"}
        assert first.detail() == "database unreachable; model failed"
        await asyncio.gather(*(probe.result() for _ in range(10)))
        assert len(calls) == 1

    asyncio.run(scenario())
    probe.close()


def test_health_and_ready_say_503_with_retry_after_when_the_database_is_down(
    make_client: Callable[..., Any],
) -> None:
    with make_client(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none") as client:
        for path in ("/health", "/ready"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == "2"
            assert "database unreachable" in response.json()["detail"]


def test_health_and_ready_are_ok_with_a_database_and_a_model(
    make_client: Callable[..., Any],
) -> None:
    with make_client() as client:
        assert client.get("/health").json() == {"status": "ok"}
        body = client.get("/ready").json()
        assert body["status"] == "ready"
        assert services_of(client.app).model_answers()


def test_sqlite_waits_at_most_the_busy_timeout() -> None:
    engine = make_engine("sqlite:///:memory:", DatabaseTimeouts(busy_s=0.25))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 250


@pytest.mark.postgres
def test_postgres_sessions_carry_the_statement_and_lock_timeouts() -> None:
    timeouts = DatabaseTimeouts(statement_ms=750, lock_ms=300)
    log = AuditLog(postgres_url(), f"audit_t_{uuid.uuid4().hex[:10]}", timeouts)
    try:
        with log.engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "750ms"
            assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "300ms"
            with pytest.raises(Exception, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(2)"))
    finally:
        log.engine.dispose()
