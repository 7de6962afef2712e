"""Decision audit log (EU AI Act art. 12): one row per score or explanation served.

A request waits until its rows are committed: when the database is down, stalled or the row
cannot be written it gets an error (mapped to 503 with Retry-After) instead of serving a decision
that was never logged. For every database (SQLite and PostgreSQL alike) rows go through one
writer thread that commits whatever is queued in a single transaction (group commit), so neither
a commit nor a network round trip runs on the event loop, and throughput holds under concurrency.

- The queue is bounded (``queue_max`` requests): when it is full, a request fails at once.
- A request waits at most ``wait_s`` for its commit, then fails; if its rows were not written
  yet they are dropped (a late row is harmless, a decision without a row is not).
- A row is checked against the table before it is queued (lengths, decision, probability), and a
  group commit that fails on the data is retried request by request: a bad row fails alone.
- SQLite: WAL, and the checkpoint runs in the writer thread when the queue is idle, never inside
  a request's commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import math
import operator
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, overload

import numpy as np
import orjson
from opentelemetry import context as otel_context
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from api.bulkinsert import BulkInsert
from api.drift_store import DriftStore, drift_table_name

log = logging.getLogger("api.audit")

DECISIONS = frozenset({"grant", "refuse", "refer"})
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1  # the client_id column
# The SQLite WAL is checkpointed when the writer is idle and this many commits or seconds passed.
CHECKPOINT_COMMITS = 500
CHECKPOINT_S = 5.0


# What says the database itself is failing (down, stalled, out of connections), not one row.
DATABASE_DOWN = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    TimeoutError,
    ConnectionError,
)
# What says this row cannot be written: refused by the database (a constraint, a trigger, a
# value out of the column's range) or by the driver before it was sent (a value it cannot
# convert).
ROW_REFUSED = (DataError, IntegrityError, ValueError, TypeError, OverflowError)


def refused_row(exc: BaseException) -> bool:
    if isinstance(exc, ROW_REFUSED):
        return True
    # SQLAlchemy wraps a conversion error of the driver, before any round trip, in a
    # StatementError that is not a DBAPIError
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


class AuditUnavailableError(RuntimeError):
    """The audit log could not record a decision."""


class AuditRowError(AuditUnavailableError):
    """One row cannot be written (it would not fit the table); the others are not affected."""


@dataclass(frozen=True)
class AuditEntry:
    request_id: str
    key_name: str
    route: str
    model_version: str
    probability: float
    decision: str
    client_id: int | None = None
    input_hash: str | None = None
    threshold: float | None = None
    decision_reason: str | None = None
    # how input_hash was computed (revision 0004; NULL in rows written before it, which all
    # hashed the sorted-key JSON of what was posted): JSON_HASH_KIND or ROW_HASH_KIND
    input_hash_kind: str | None = None


JSON_HASH_KIND = "json-v1"  # ``input_hash``: a request that names a stored client


def input_hash(payload: Any) -> str:
    """``json-v1`` fingerprint of a request (never the request itself): the SHA-256 of its
    sorted-key JSON. Records of features get ``ScoringModel.row_hashes`` (row-v1) instead."""
    data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    return hashlib.sha256(data).hexdigest()


def audit_table(name: str, metadata: MetaData) -> Table:
    """The audit table: its one definition (migrations and row checks read it)."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("request_id", String(64), nullable=False),
        Column("key_name", String(64), nullable=False),
        Column("route", String(128), nullable=False),
        Column("client_id", BigInteger, nullable=True),
        Column("input_hash", String(64), nullable=True),
        Column("model_version", String(64), nullable=False),
        Column("probability", Float, nullable=False),
        Column("decision", String(8), nullable=False),
        # revision 0002 (api/migrations): NULL in rows written before it
        Column("threshold", Float, nullable=True),
        Column("decision_reason", String(32), nullable=True),
        # revision 0004: NULL in rows written before it (their hashes are json-v1)
        Column("input_hash_kind", String(16), nullable=True),
    )


def string_limits(table: Table) -> dict[str, int]:
    """Maximum length of every bounded text column of ``table``."""
    return {
        column.name: int(column.type.length)
        for column in table.columns
        if isinstance(column.type, String) and column.type.length is not None
    }


# dataclasses.asdict deep-copies field by field: a third of a cached explanation's audit cost
ENTRY_FIELDS = tuple(f.name for f in fields(AuditEntry))


def entry_row(entry: AuditEntry) -> dict[str, Any]:
    """The table row of ``entry`` (without its time)."""
    return {name: getattr(entry, name) for name in ENTRY_FIELDS}


def check_entry(entry: AuditEntry, limits: dict[str, int]) -> None:
    """Raise AuditRowError naming the field when ``entry`` would not fit the table."""
    for name, limit in limits.items():
        value = getattr(entry, name, None)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise AuditRowError(f"audit row refused: {name} longer than {limit} characters")
    if entry.decision not in DECISIONS:
        raise AuditRowError("audit row refused: decision is not grant, refuse or refer")
    for name in ("probability", "threshold"):
        number = getattr(entry, name)
        if number is None and name == "threshold":
            continue
        if not _is_number(number) or not 0.0 <= number <= 1.0:
            raise AuditRowError(f"audit row refused: {name} is not a number from 0 to 1")
    client_id = entry.client_id
    if client_id is not None and not (
        isinstance(client_id, int) and BIGINT_MIN <= client_id <= BIGINT_MAX
    ):
        raise AuditRowError("audit row refused: client_id is not a 64-bit integer")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# the fields an EntryBatch holds per record (a column each); the others are the request's
BATCH_COLUMNS = ("probability", "decision", "decision_reason", "input_hash")


@dataclass(frozen=True, slots=True)
class EntryBatch(Sequence[AuditEntry]):
    """The audit rows of a batch's decisions as columns: what the request shares (its id, key,
    route, model version, threshold, hash kind) once, what each record has as aligned lists
    (``BATCH_COLUMNS``); no client id. A sequence of ``AuditEntry`` (built when one is asked
    for), checked (``check_entries``) and inserted (``Inserter``) column by column: the same
    rows and the same refusals as one entry per record, which cost 1,000 objects and 1,000
    checks per 1,000-record batch."""

    request_id: str
    key_name: str
    route: str
    model_version: str
    threshold: float | None
    input_hash_kind: str | None
    probability: Sequence[float]
    decision: Sequence[str]
    decision_reason: Sequence[str | None]
    input_hash: Sequence[str | None]

    def __post_init__(self) -> None:
        lengths = {name: len(getattr(self, name)) for name in BATCH_COLUMNS}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"EntryBatch columns of different lengths: {lengths}")

    def __len__(self) -> int:
        return len(self.probability)

    @overload
    def __getitem__(self, index: int) -> AuditEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[AuditEntry]: ...

    def __getitem__(self, index: int | slice) -> AuditEntry | list[AuditEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return AuditEntry(
            request_id=self.request_id,
            key_name=self.key_name,
            route=self.route,
            model_version=self.model_version,
            probability=self.probability[index],
            decision=self.decision[index],
            input_hash=self.input_hash[index],
            threshold=self.threshold,
            decision_reason=self.decision_reason[index],
            input_hash_kind=self.input_hash_kind,
        )

    def shared(self) -> AuditEntry:
        """An entry with the request's fields and valid stand-ins for the records' (checked
        column by column): what the per-request fields are checked on, once."""
        return AuditEntry(
            request_id=self.request_id,
            key_name=self.key_name,
            route=self.route,
            model_version=self.model_version,
            probability=0.0,
            decision="grant",
            threshold=self.threshold,
            input_hash_kind=self.input_hash_kind,
        )

    def values(self, columns: Sequence[str]) -> Iterator[list[Any]]:
        """Each record's values in ``columns`` order (a table column it lacks: None)."""
        n = len(self)
        per_record = [
            getattr(self, name)
            if name in BATCH_COLUMNS
            else itertools.repeat(getattr(self, name, None), n)
            for name in columns
        ]
        return map(list, zip(*per_record, strict=True))


def check_entries(entries: Sequence[AuditEntry], limits: dict[str, int]) -> None:
    """``check_entry`` on each entry (an ``EntryBatch``: on its columns at once); the first
    refusal raises AuditRowError naming the field."""
    if not isinstance(entries, EntryBatch):
        for entry in entries:
            check_entry(entry, limits)
        return
    check_entry(entries.shared(), limits)
    for name in ("input_hash", "decision_reason"):
        limit = limits.get(name)
        texts = [value for value in getattr(entries, name) if value is not None]
        if (limit is not None and texts) and (
            not set(map(type, texts)) <= {str} or max(map(len, texts)) > limit
        ):
            raise AuditRowError(f"audit row refused: {name} longer than {limit} characters")
    if not set(entries.decision) <= DECISIONS:
        raise AuditRowError("audit row refused: decision is not grant, refuse or refer")
    if not _numbers_in_unit(entries.probability):
        raise AuditRowError("audit row refused: probability is not a number from 0 to 1")


def _numbers_in_unit(values: Sequence[object]) -> bool:
    """Whether every value is a finite number (not a bool) from 0 to 1."""
    kinds = set(map(type, values))
    if not all(issubclass(kind, int | float) and kind is not bool for kind in kinds):
        return False
    array = np.asarray(values, dtype="float64")
    return bool(np.all((array >= 0.0) & (array <= 1.0)))  # NaN fails both


@dataclass(frozen=True)
class DatabaseTimeouts:
    """Bounds of every call to the audit database (Settings.db_*)."""

    connect_s: int = 2
    pool_s: float = 2.0
    statement_ms: int = 1000
    lock_ms: int = 500
    busy_s: float = 1.0

    def postgres_options(self) -> str:
        """libpq `options`: server-side bounds of each statement (COMMIT included), each lock
        wait and each transaction left idle, set when the connection opens."""
        return (
            f"-c statement_timeout={self.statement_ms} -c lock_timeout={self.lock_ms} "
            f"-c idle_in_transaction_session_timeout={max(self.statement_ms * 5, 5000)}"
        )


def make_engine(url: str, timeouts: DatabaseTimeouts | None = None) -> Engine:
    bounds = timeouts or DatabaseTimeouts()
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": bounds.busy_s},
            # one connection shared by the writer thread and readers, else each thread would
            # get its own empty in-memory database
            **({"poolclass": StaticPool} if memory else {}),
        )

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # no checkpoint inside a commit: the writer checkpoints when idle
            cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.execute(f"PRAGMA busy_timeout={int(bounds.busy_s * 1000)}")
            cur.close()

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect_args = {"connect_timeout": bounds.connect_s, "options": bounds.postgres_options()}
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=2,
        pool_timeout=bounds.pool_s,
        connect_args=connect_args,
    )


class Inserter:
    """The audit table's ``BulkInsert``: a group's rows from its entries, the time of the group
    converted once."""

    def __init__(self, table: Table, engine: Engine) -> None:
        self.bulk = BulkInsert(table, engine, [c.name for c in table.columns if c.name != "id"])
        self.sql = self.bulk.sql
        self.stamp = self.bulk.processors.get("at")  # applied once per group
        self.values = operator.attrgetter(*self.bulk.columns[1:])  # AuditEntry's fields, in order

    def rows(self, at: datetime, groups: Sequence[Sequence[AuditEntry]]) -> tuple[str, list[Any]]:
        """The statement and the parameters of the entries of ``groups`` (each request's),
        stamped ``at``; an ``EntryBatch`` is read column by column."""
        stamp = self.stamp(at) if self.stamp is not None else at
        return self.sql, self.bulk.params(self._rows(stamp, groups), skip=("at",))

    def _rows(self, stamp: Any, groups: Sequence[Sequence[AuditEntry]]) -> Iterator[list[Any]]:
        values, columns = self.values, self.bulk.columns[1:]
        for entries in groups:
            if isinstance(entries, EntryBatch):
                for row in entries.values(columns):
                    row.insert(0, stamp)
                    yield row
            else:
                for entry in entries:
                    yield [stamp, *values(entry)]


Done = Callable[[BaseException | None], None]
_STOP = object()


@dataclass(eq=False, slots=True)
class _Pending:
    """The rows of one request and how to tell it the outcome: ``done`` (called from the writer
    thread) or, for a request on an event loop, its ``future`` (settled on that loop, together
    with every other future of the same commit group)."""

    entries: Sequence[AuditEntry]
    done: Done | None = None
    abandoned: bool = False
    # the request's trace context: the insert is traced as a dependency of (the first) request
    trace: Any = field(default_factory=otel_context.get_current)
    future: asyncio.Future[None] | None = None
    loop: asyncio.AbstractEventLoop | None = None


Outcome = tuple[_Pending, BaseException | None]


def _tell(outcomes: Sequence[Outcome]) -> None:
    """Hand the outcomes of a commit group to their requests: one wake-up of each event loop
    for the whole group (not one per request), ``done`` called for the others."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for item, exc in outcomes:
        if item.loop is None:
            if item.done is not None:
                item.done(exc)
        else:
            by_loop.setdefault(item.loop, []).append((item, exc))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle_all, settled)


def _settle_all(settled: Sequence[Outcome]) -> None:
    for item, exc in settled:
        future = item.future
        if future is None or future.done():  # timed out or cancelled meanwhile
            continue
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)


class Commit:
    """What ``AuditLog.begin`` returns: awaiting it waits for the commit of the rows (raises
    AuditUnavailableError when it fails or does not come in time); ``close`` stops waiting for
    it (a response that will not be sent), as closing a coroutine would."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future

    def __await__(self) -> Generator[Any, None, None]:
        return self.future.__await__()

    def close(self) -> None:
        future = self.future
        if future.done():
            if not future.cancelled():
                future.exception()  # retrieved: no "exception was never retrieved" warning
        else:
            future.cancel()


class _Deadlines:
    """The bounded wait of the requests of one event loop, without a timer per request: the
    futures in the order they were queued (so in the order of their deadlines), and one timer
    at the earliest deadline that expires those not settled by then and re-arms itself."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wait_s: float) -> None:
        self.loop = loop
        self.wait_s = wait_s
        self.waiting: deque[tuple[float, _Pending]] = deque()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, pending: _Pending) -> None:
        deadline = self.loop.time() + self.wait_s
        self.waiting.append((deadline, pending))
        if self.timer is None:
            self.timer = self.loop.call_at(deadline, self.expire)

    def expire(self) -> None:
        now = self.loop.time()
        waiting = self.waiting
        while waiting:
            deadline, pending = waiting[0]
            future = pending.future
            if future is not None and not future.done():
                if deadline > now:
                    break
                pending.abandoned = True  # not written late
                future.set_exception(
                    AuditUnavailableError(
                        f"decision audit log did not commit within {self.wait_s:g} s"
                    )
                )
            waiting.popleft()
        self.timer = self.loop.call_at(waiting[0][0], self.expire) if waiting else None


class AuditLog:
    """Owns the engine, the table and the writer thread."""

    def __init__(
        self,
        url: str,
        table: str = "decision_audit",
        timeouts: DatabaseTimeouts | None = None,
        *,
        wait_s: float = 1.0,
        queue_max: int = 10_000,
    ) -> None:
        if url.startswith("sqlite:///"):
            from pathlib import Path

            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url, timeouts)
        self.metadata = MetaData()
        self.table = audit_table(table, self.metadata)
        self.limits = string_limits(self.table)
        self._inserter = Inserter(self.table, self.engine)
        self.wait_s = wait_s
        self.sqlite = url.startswith("sqlite")
        # SimpleQueue (C, no Condition per put) bounded by a check of its size on submit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.queue_max = queue_max
        self._deadlines: _Deadlines | None = None  # of the event loop that last queued rows
        self._thread: threading.Thread | None = None
        self._schema_ready = False
        self._running = False
        self._commits_since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        # the shared drift window (api/drift_store.py): written by this writer thread, after
        # and apart from the audit rows' commits
        self.drift: DriftStore | None = None

    def attach_drift(self, store: DriftStore) -> None:
        self.drift = store

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._ensure_schema()
        except Exception as exc:  # the API still starts; /ready and audited routes say 503
            log.warning("audit database unreachable at start: %s", type(exc).__name__)
        self._running = True
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
            self._thread = None
        self.engine.dispose()

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            from api.migrate import upgrade

            upgrade(self.engine, self.table.name)
            self._schema_ready = True

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            self._ensure_schema()
        except Exception:
            return False
        return True

    @property
    def backlog(self) -> int:
        """Requests waiting for the writer."""
        return self._queue.qsize()

    # -- writing ---------------------------------------------------------------------------
    def submit(self, entries: Sequence[AuditEntry], done: Done) -> _Pending | None:
        """Queue rows; ``done`` is called from the writer thread once they are committed (None)
        or failed (the exception), or at once when they are refused. Returns the queued item
        (to abandon it), or None when it was refused."""
        pending = _Pending(entries, done)
        error = self._enqueue(pending)
        if error is not None:
            done(error)
            return None
        return pending

    def _enqueue(self, pending: _Pending) -> AuditUnavailableError | None:
        """Check and queue ``pending``; the error that refuses it, or None once queued."""
        if not self._running:
            return AuditUnavailableError("audit log is not running")
        try:
            check_entries(pending.entries, self.limits)
        except AuditRowError as exc:
            log.error("%s", exc)
            return exc
        if self._queue.qsize() >= self.queue_max:
            log.error("audit queue full (%d requests waiting)", self.queue_max)
            return AuditUnavailableError("decision audit log overloaded")
        self._queue.put(pending)
        return None

    async def record(self, *entries: AuditEntry) -> None:
        """Await the commit of ``entries`` (at most ``wait_s``); raises AuditUnavailableError
        when it fails or does not come in time."""
        await self.begin(*entries)

    def begin(self, *entries: AuditEntry) -> Commit:
        """Queue ``entries`` now and return what awaits their commit (as ``record``): a route
        builds its response while the writer commits, and awaits the commit before answering."""
        return self.begin_all(entries)

    def begin_all(self, entries: Sequence[AuditEntry]) -> Commit:
        """``begin`` of a sequence as it is (an ``EntryBatch`` stays columns)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        pending = _Pending(entries, None, future=future, loop=loop)
        error = self._enqueue(pending)
        if error is not None:
            future.set_exception(error)
            return Commit(future)
        deadlines = self._deadlines
        if deadlines is None or deadlines.loop is not loop:
            # another loop (tests run several): the previous one's timer still serves its own
            deadlines = self._deadlines = _Deadlines(loop, self.wait_s)
        deadlines.add(pending)
        return Commit(future)

    def record_sync(self, *entries: AuditEntry) -> None:
        """Blocking variant for threads and tests (same bounded wait)."""
        finished = threading.Event()
        errors: list[BaseException] = []

        def done(exc: BaseException | None) -> None:
            if exc is not None:
                errors.append(exc)
            finished.set()

        pending = self.submit(entries, done)
        if not finished.wait(self.wait_s):
            if pending is not None:
                pending.abandoned = True
            raise AuditUnavailableError(
                f"decision audit log did not commit within {self.wait_s:g} s"
            )
        if errors:
            error = errors[0]
            if isinstance(error, AuditUnavailableError):
                raise error
            raise AuditUnavailableError(str(error)) from error

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:  # idle: the drift rows at once
                self._write_drift(force=True)
                self._checkpoint(force=False)
                continue
            if item is _STOP:
                self._write_drift(force=True)
                self._checkpoint(force=True)
                return
            batch = [item]
            stop = False
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            flushes = [one for one in batch if isinstance(one, threading.Event)]
            self._write([one for one in batch if isinstance(one, _Pending)])
            # the audit rows are committed and their requests told: now the drift rows, at
            # most once every drift_store.WRITE_S under load (each is a commit the next group
            # waits for)
            self._write_drift(force=bool(flushes) or stop)
            for flushed in flushes:
                flushed.set()
            if stop:
                self._checkpoint(force=True)
                return
            if self._queue.empty():
                self._checkpoint(force=False)

    def _write_drift(self, force: bool) -> None:
        """The queued drift rows, in a transaction of their own: their failure (logged, the
        rows dropped) never reaches a request."""
        if self.drift is None:
            return
        try:
            self._ensure_schema()
        except Exception as exc:
            log.warning("drift rows wait: audit schema not ready (%s)", type(exc).__name__)
            return
        if self.drift.write(force):
            self._commits_since_checkpoint += 1

    def flush_drift(self, timeout_s: float = 5.0) -> bool:
        """Wait until the drift rows queued so far are written (tests, shutdown)."""
        if not self._running:
            return False
        flushed = threading.Event()
        self._queue.put(flushed)
        return flushed.wait(timeout_s)

    def _write(self, batch: list[_Pending]) -> None:
        live = [item for item in batch if not item.abandoned]
        if live:
            _tell(self._commit(live))

    def _commit(self, live: list[_Pending]) -> list[Outcome]:
        """Commit the rows of ``live`` (one transaction, else request by request when a row is
        refused); the outcome of each request."""
        try:
            self._insert(live)
        except DATABASE_DOWN as exc:  # the database, not a row: every request fails fast
            return self._failed(live, exc)
        except Exception as exc:
            if len(live) == 1:
                return self._failed(live, exc, row=refused_row(exc))
            # a row the database (or the driver: a value out of range) refuses must not fail
            # the other requests of the commit: each is tried alone
            outcomes: list[Outcome] = []
            for item in live:
                try:
                    self._insert([item])
                except Exception as single:
                    outcomes += self._failed([item], single, row=refused_row(single))
                else:
                    outcomes.append((item, None))
            return outcomes
        return [(item, None) for item in live]

    def _insert(self, items: list[_Pending]) -> None:
        now = datetime.now(UTC)
        token = otel_context.attach(items[0].trace)
        try:
            self._ensure_schema()
            sql, rows = self._inserter.rows(now, [item.entries for item in items])
            with self.engine.begin() as conn:
                conn.exec_driver_sql(sql, rows)
        finally:
            otel_context.detach(token)
        self._commits_since_checkpoint += 1

    def _failed(
        self, items: list[_Pending], exc: BaseException, row: bool = False
    ) -> list[Outcome]:
        log.error("audit write failed: %s", type(exc).__name__)
        error = (
            AuditRowError("decision audit log refused this decision's row")
            if row
            else AuditUnavailableError("decision audit log unavailable")
        )
        return [(item, error) for item in items]

    def _checkpoint(self, force: bool) -> None:
        """Fold the SQLite WAL back into the database file, off the request path."""
        if not self.sqlite or self._commits_since_checkpoint == 0:
            return
        due = (
            self._commits_since_checkpoint >= CHECKPOINT_COMMITS
            or time.monotonic() - self._last_checkpoint >= CHECKPOINT_S
        )
        if not (force or due):
            return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:
            log.warning("audit WAL checkpoint failed: %s", type(exc).__name__)
        self._commits_since_checkpoint = 0
        self._last_checkpoint = time.monotonic()

    # -- reading (tests, ops) --------------------------------------------------------------
    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())

    def drop(self) -> None:
        """Drop the audit table, its drift window and its version table (tests)."""
        drop_tables(self.engine, self.table.name)

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execute(self.table.select().order_by(self.table.c.id))
            return [dict(row._mapping) for row in result]


def drop_tables(engine: Engine, name: str) -> None:
    """Drop the audit table ``name``, its drift window and its version table where they exist."""
    metadata = MetaData()
    for one in (name, drift_table_name(name), f"{name}_version"[:63]):
        Table(one, metadata).drop(engine, checkfirst=True)
