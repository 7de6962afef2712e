"""The decision audit log: rows committed, none lost under concurrency, failures reported."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from api.audit import AuditEntry, AuditLog, AuditUnavailableError, input_hash
from tests.services import postgres_url


def entry(i: int) -> AuditEntry:
    return AuditEntry(
        request_id=f"req-{i}",
        key_name="alice",
        route="/v1/predict",
        model_version="v1",
        probability=i / 1000,
        decision="grant",
        client_id=i if i % 2 else None,
        input_hash=None if i % 2 else input_hash({"i": i}),
    )


@pytest.fixture
def sqlite_log(tmp_path: Path) -> Iterator[AuditLog]:
    log = AuditLog(f"sqlite:///{tmp_path}/audit.db")
    log.start()
    yield log
    log.stop()


@pytest.fixture
def pg_log() -> Iterator[AuditLog]:
    log = AuditLog(postgres_url(), table=f"audit_test_{uuid.uuid4().hex[:12]}")
    log.start()
    yield log
    log.table.drop(log.engine, checkfirst=True)
    log.stop()


def exercise(log: AuditLog) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: log.record_sync(entry(i)), range(400)))

    async def many() -> None:
        await asyncio.gather(*(log.record(entry(1000 + i)) for i in range(200)))

    asyncio.run(many())
    log.record_sync(*(entry(2000 + i) for i in range(50)))
    assert log.count() == 650
    rows = log.rows()
    assert {r["request_id"] for r in rows} == {
        f"req-{i}" for i in [*range(400), *range(1000, 1200), *range(2000, 2050)]
    }
    first = next(r for r in rows if r["request_id"] == "req-3")
    assert first["client_id"] == 3
    assert first["key_name"] == "alice"
    assert first["at"] is not None
    assert log.ping()


def test_sqlite_rows_are_all_committed_under_concurrency(sqlite_log: AuditLog) -> None:
    exercise(sqlite_log)


@pytest.mark.postgres
def test_postgres_rows_are_all_committed_under_concurrency(pg_log: AuditLog) -> None:
    exercise(pg_log)


def test_write_failure_is_reported(sqlite_log: AuditLog) -> None:
    sqlite_log.record_sync(entry(1))
    with sqlite_log.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {sqlite_log.table.name}"))
    sqlite_log._schema_ready = True  # pretend nothing changed: the insert must fail
    with pytest.raises(AuditUnavailableError):
        sqlite_log.record_sync(entry(2))


def test_unreachable_database_fails_writes_and_ping() -> None:
    log = AuditLog("postgresql+psycopg://postgres@127.0.0.1:1/none")
    log.start()
    try:
        assert not log.ping()
        with pytest.raises(AuditUnavailableError):
            log.record_sync(entry(1))
    finally:
        log.stop()


def test_not_started_refuses() -> None:
    log = AuditLog("sqlite:///:memory:")
    with pytest.raises(AuditUnavailableError):
        log.record_sync(entry(1))


def test_input_hash_is_stable_and_order_free() -> None:
    assert input_hash({"a": 1.0, "b": None}) == input_hash({"b": None, "a": 1.0})
    assert input_hash({"a": 1.0}) != input_hash({"a": 2.0})
