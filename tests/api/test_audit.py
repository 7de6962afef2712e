"""The decision audit log: rows committed, none lost under concurrency, failures reported."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from api.audit import (
    AuditEntry,
    AuditLog,
    AuditRowError,
    AuditUnavailableError,
    EntryBatch,
    _Pending,
    check_entries,
    check_entry,
    entry_row,
    input_hash,
)
from tests.services import postgres_url


def entry(i: int) -> AuditEntry:
    return AuditEntry(
        request_id=f"req-{i}",
        key_name="alice",
        route="/v1/predict",
        model_version="v1",
        probability=(i % 1000) / 1000,  # a probability: from 0 to 1
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
    log.drop()
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


def test_sqlite_commits_in_the_writer_thread_not_the_caller(sqlite_log: AuditLog) -> None:
    threads: set[str] = set()

    @event.listens_for(sqlite_log.engine, "commit")
    def _seen(conn: object) -> None:
        threads.add(threading.current_thread().name)

    asyncio.run(sqlite_log.record(entry(1)))
    assert threads == {"audit-writer"}
    assert sqlite_log.count() == 1


def test_memory_sqlite_is_one_database_for_writer_and_readers() -> None:
    log = AuditLog("sqlite:///:memory:")
    log.start()
    try:
        log.record_sync(entry(1), entry(2))
        assert log.count() == 2
    finally:
        log.stop()


def test_wal_is_checkpointed_by_the_writer_not_on_commit(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    log = AuditLog(f"sqlite:///{db}")
    log.start()
    try:
        for i in range(20):
            log.record_sync(entry(i))
        wal = Path(f"{db}-wal")
        assert wal.exists()
        assert wal.stat().st_size > 0
    finally:
        log.stop()  # checkpoints on the way out
    with sqlite3.connect(db) as conn:
        _busy, log_frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert log_frames == done  # nothing was left to fold back


def test_a_row_that_does_not_fit_fails_alone_before_queueing(sqlite_log: AuditLog) -> None:
    long_key = replace(entry(1), key_name="k" * 65)

    async def both() -> list[BaseException | None]:
        return await asyncio.gather(
            sqlite_log.record(long_key), sqlite_log.record(entry(2)), return_exceptions=True
        )

    bad, good = asyncio.run(both())
    assert isinstance(bad, AuditRowError)
    assert "key_name" in str(bad)
    assert good is None
    assert [r["request_id"] for r in sqlite_log.rows()] == ["req-2"]


def test_a_group_commit_refused_by_the_database_is_retried_row_by_row(
    sqlite_log: AuditLog,
) -> None:
    """A row that passes the checks but that the database refuses (here by a trigger) fails
    alone; the requests committed with it succeed."""
    with sqlite_log.engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TRIGGER refuse_poison BEFORE INSERT ON {sqlite_log.table.name} "
                "WHEN NEW.request_id = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    results: dict[str, BaseException | None] = {}
    finished = threading.Event()
    names = ["req-1", "poison", "req-3"]

    def done_for(name: str) -> Callable[[BaseException | None], None]:
        def done(exc: BaseException | None) -> None:
            results[name] = exc
            if len(results) == len(names):
                finished.set()

        return done

    items = [
        _Pending([replace(entry(i), request_id=name)], done_for(name))
        for i, name in enumerate(names)
    ]
    sqlite_log._write(items)  # one group, as the writer would commit them
    assert finished.wait(5)
    assert results["req-1"] is None
    assert results["req-3"] is None
    assert isinstance(results["poison"], AuditUnavailableError)
    assert {r["request_id"] for r in sqlite_log.rows()} == {"req-1", "req-3"}


class _StalledEngine:
    """Stands in for a database that accepts connections and never answers."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def begin(self) -> Any:
        self.release.wait(30)
        raise OperationalError("INSERT", {}, Exception("stalled"))

    def dispose(self) -> None:
        pass


def test_a_stalled_writer_fails_requests_within_the_bounded_wait(tmp_path: Path) -> None:
    log = AuditLog(f"sqlite:///{tmp_path}/audit.db", wait_s=0.2, queue_max=3)
    log.start()
    release = threading.Event()
    log.engine = _StalledEngine(release)  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        with pytest.raises(AuditUnavailableError, match=r"within 0\.2 s"):
            log.record_sync(entry(1))
        assert time.perf_counter() - started < 2
        # the writer is stuck on entry 1: the queue fills, then refuses at once
        for i in range(3):
            with pytest.raises(AuditUnavailableError):
                log.record_sync(entry(10 + i))
        started = time.perf_counter()
        with pytest.raises(AuditUnavailableError, match="overloaded"):
            log.record_sync(entry(20))
        assert time.perf_counter() - started < 0.1
    finally:
        release.set()
        log.stop()


def test_abandoned_rows_are_not_written_late(sqlite_log: AuditLog) -> None:
    calls: list[BaseException | None] = []
    item = _Pending([entry(1)], calls.append, abandoned=True)
    sqlite_log._write([item])
    assert sqlite_log.count() == 0
    assert calls == []


@pytest.mark.postgres
def test_postgres_refusing_one_row_of_a_group_fails_it_alone(pg_log: AuditLog) -> None:
    pg_log.limits = {}  # let the over-long key reach PostgreSQL, which refuses it (DataError)
    long_key = replace(entry(1), key_name="k" * 65)
    results: list[BaseException | None] = []
    finished = threading.Event()

    def done(exc: BaseException | None) -> None:
        results.append(exc)
        if len(results) == 3:
            finished.set()

    pg_log._ensure_schema()
    pg_log._write(
        [_Pending([entry(0)], done), _Pending([long_key], done), _Pending([entry(2)], done)]
    )
    assert finished.wait(10)
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], AuditUnavailableError)
    assert {r["request_id"] for r in pg_log.rows()} == {"req-0", "req-2"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"probability": float("nan")}, "probability"),
        ({"probability": 1.5}, "probability"),
        ({"probability": None}, "probability"),
        ({"threshold": float("inf")}, "threshold"),
        ({"client_id": 2**70}, "client_id"),  # beyond BIGINT: the driver would raise
        ({"client_id": "100001"}, "client_id"),
        ({"decision": "maybe"}, "decision"),
        ({"request_id": 7}, "request_id"),
    ],
)
def test_a_row_that_would_not_fit_is_refused_by_name_before_queueing(
    sqlite_log: AuditLog, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(AuditRowError, match=field):
        check_entry(replace(entry(1), **change), sqlite_log.limits)
    assert check_entry(entry(1), sqlite_log.limits) is None


def batch_of(n: int, **columns: list[Any]) -> EntryBatch:
    """A batch's audit rows: ``n`` records of one request, ``columns`` replacing its lists."""
    lists: dict[str, list[Any]] = {
        "probability": [(i % 10) / 10 for i in range(n)],
        "decision": ["grant", "refuse", "refer"] * (n // 3) + ["grant"] * (n % 3),
        "decision_reason": [None if i % 2 else "below_threshold" for i in range(n)],
        "input_hash": [input_hash({"i": i}) for i in range(n)],
        **columns,
    }
    return EntryBatch(
        request_id="req-batch",
        key_name="alice",
        route="/v1/predict/batch",
        model_version="v1",
        threshold=0.25,
        input_hash_kind="row-v1",
        **lists,
    )


def test_a_batch_of_entries_is_its_records_entries_and_is_stored_as_them(
    sqlite_log: AuditLog,
) -> None:
    batch = batch_of(5)
    one = batch[3]
    assert one == AuditEntry(
        request_id="req-batch",
        key_name="alice",
        route="/v1/predict/batch",
        model_version="v1",
        probability=0.3,
        decision="grant",
        input_hash=input_hash({"i": 3}),
        threshold=0.25,
        decision_reason=None,
        input_hash_kind="row-v1",
    )
    assert batch[1:3] == [batch[1], batch[2]]
    assert list(batch) == [batch[i] for i in range(5)]

    async def both() -> None:  # the batch as columns, and the same rows one entry each
        await sqlite_log.begin_all(batch)
        await sqlite_log.record(*(replace(e, request_id="req-entries") for e in batch))

    asyncio.run(both())
    stored = sqlite_log.rows()
    columns, entries = (
        [{k: v for k, v in r.items() if k not in ("id", "at", "request_id")} for r in stored
         if r["request_id"] == rid]
        for rid in ("req-batch", "req-entries")
    )  # fmt: skip
    assert len(columns) == 5
    assert columns == entries
    assert [r["decision_reason"] for r in columns] == [batch[i].decision_reason for i in range(5)]


def test_a_batch_with_columns_of_different_lengths_is_an_error() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        batch_of(3, input_hash=["a" * 64])


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [
        ("probability", float("nan"), "probability"),
        ("probability", 1.5, "probability"),
        ("probability", -0.1, "probability"),
        ("probability", None, "probability"),
        ("probability", True, "probability"),
        ("probability", "0.5", "probability"),
        ("decision", "maybe", "decision"),
        ("decision_reason", "x" * 33, "decision_reason"),
        ("input_hash", "f" * 65, "input_hash"),
        ("input_hash", 7, "input_hash"),
    ],
)
def test_a_batch_is_refused_by_name_where_one_of_its_entries_would_be(
    sqlite_log: AuditLog, column: str, value: Any, field: str
) -> None:
    """The column checks of a batch refuse what ``check_entry`` refuses in one of its records,
    with the same message; a batch of valid rows passes."""
    good = batch_of(4)
    assert check_entries(good, sqlite_log.limits) is None
    values = list(getattr(good, column))
    values[2] = value
    bad = batch_of(4, **{column: values})
    with pytest.raises(AuditRowError, match=field) as entries:
        check_entry(bad[2], sqlite_log.limits)
    with pytest.raises(AuditRowError) as columns:
        check_entries(bad, sqlite_log.limits)
    assert str(columns.value) == str(entries.value)


@pytest.mark.parametrize(("field", "value"), [("request_id", "r" * 65), ("threshold", 2.0)])
def test_a_batch_whose_request_fields_would_not_fit_is_refused_by_name(
    sqlite_log: AuditLog, field: str, value: Any
) -> None:
    with pytest.raises(AuditRowError, match=field):
        check_entries(replace(batch_of(3), **{field: value}), sqlite_log.limits)


def test_a_row_the_driver_refuses_fails_alone_in_its_group_commit(sqlite_log: AuditLog) -> None:
    """A value the driver cannot send (an integer beyond SQLite's 64 bits: OverflowError, not a
    database error) that got past the checks fails its request only, as a refused row."""
    results: dict[str, BaseException | None] = {}
    finished = threading.Event()

    def done_for(name: str) -> Callable[[BaseException | None], None]:
        def done(exc: BaseException | None) -> None:
            results[name] = exc
            if len(results) == 3:
                finished.set()

        return done

    rows = [entry(1), replace(entry(3), request_id="huge", client_id=2**70), entry(5)]
    sqlite_log._write([_Pending([row], done_for(row.request_id)) for row in rows])
    assert finished.wait(5)
    assert results["req-1"] is None
    assert results["req-5"] is None
    assert isinstance(results["huge"], AuditRowError)
    assert {r["request_id"] for r in sqlite_log.rows()} == {"req-1", "req-5"}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_rows_written_by_the_compiled_insert_are_those_of_table_insert(
    request: pytest.FixtureRequest, backend: str
) -> None:
    """The writer's one executemany (``Inserter``: no per-row SQLAlchemy processing) stores
    what ``table.insert()`` stores, byte for byte as the database returns it (SQLite keeps the
    time as text)."""
    log: AuditLog = request.getfixturevalue("sqlite_log" if backend == "sqlite" else "pg_log")
    log._ensure_schema()
    now = datetime.now(UTC)
    one = replace(entry(3), threshold=0.25, decision_reason="below_threshold")
    sql, params = log._inserter.rows(now, [[replace(one, request_id="compiled")]])
    with log.engine.begin() as conn:
        conn.exec_driver_sql(sql, params)
        conn.execute(log.table.insert(), [dict(entry_row(one), request_id="core", at=now)])
    with log.engine.connect() as conn:
        stored = conn.execute(text(f"SELECT * FROM {log.table.name} ORDER BY id")).mappings()
        compiled, core = ({k: v for k, v in row.items() if k != "id"} for row in stored.all())
    assert compiled == {**core, "request_id": "compiled"}
    assert core["client_id"] == 3
    assert core["at"] is not None


def test_requests_on_an_event_loop_wait_within_the_bound_and_are_not_written_late(
    tmp_path: Path,
) -> None:
    """The bounded wait of requests on an event loop (one timer for all of them): each fails
    once its own wait is over, in the order they were queued, and its row is dropped."""
    log = AuditLog(f"sqlite:///{tmp_path}/audit.db", wait_s=0.2)
    log.start()
    release = threading.Event()
    real_engine = log.engine
    log.engine = _StalledEngine(release)  # type: ignore[assignment]

    async def two_requests() -> list[tuple[float, BaseException | None]]:
        loop = asyncio.get_running_loop()
        began = loop.time()

        async def one(i: int, delay: float) -> tuple[float, BaseException | None]:
            await asyncio.sleep(delay)
            try:
                await log.record(entry(i))
            except AuditUnavailableError as exc:
                return loop.time() - began, exc
            return loop.time() - began, None

        return list(await asyncio.gather(one(1, 0.0), one(2, 0.1)))

    try:
        (first_s, first), (second_s, second) = asyncio.run(two_requests())
    finally:
        release.set()
        log.engine = real_engine
    try:
        assert isinstance(first, AuditUnavailableError)
        assert isinstance(second, AuditUnavailableError)
        assert "within 0.2 s" in str(first)
        assert 0.2 <= first_s < 1.0
        assert 0.3 <= second_s < 1.1  # its own bound, from when it was queued
        assert log.flush_drift(5)  # the writer is past the stalled group
        assert log.count() == 0  # abandoned rows are not written once the writer recovers
    finally:
        log.stop()


def test_a_commit_group_settles_every_request_of_its_loop(sqlite_log: AuditLog) -> None:
    async def many() -> None:
        commits = [sqlite_log.begin(entry(3000 + i)) for i in range(100)]
        for commit in commits:
            await commit

    asyncio.run(many())
    assert sqlite_log.count() == 100


def test_a_closed_commit_stops_waiting_without_a_stray_exception(tmp_path: Path) -> None:
    log = AuditLog(f"sqlite:///{tmp_path}/audit.db")  # not started: refused at once

    async def closed() -> bool:
        commit = log.begin(entry(1))
        commit.close()  # the response will not be sent: nobody awaits it
        return commit.future.done()

    assert asyncio.run(closed())

    async def refused() -> None:
        await log.begin(entry(2))

    with pytest.raises(AuditUnavailableError, match="not running"):
        asyncio.run(refused())
