"""Decision audit log (EU AI Act art. 12): one row per score or explanation served.

A request waits until its rows are committed: when the database is down it gets an error (mapped
to 503) instead of serving a decision that was never logged. With a server database (PostgreSQL)
rows go through one writer thread that commits whatever is queued in a single transaction (group
commit), so a network round trip never blocks the event loop and throughput holds under
concurrency. With SQLite (a local file, no network, WAL) a commit costs tens of microseconds: it is
done inline, under a lock, which is cheaper than waking a thread on a busy machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
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

log = logging.getLogger("api.audit")


class AuditUnavailableError(RuntimeError):
    """The audit log could not record a decision."""


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


def input_hash(payload: Any) -> str:
    """Stable fingerprint of an input record (never the record itself)."""
    data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    return hashlib.sha256(data).hexdigest()


def audit_table(name: str, metadata: MetaData) -> Table:
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
    )


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
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": bounds.busy_s}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
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


Done = Callable[[BaseException | None], None]
_STOP = object()


class AuditLog:
    """Owns the engine, the table and the writer thread."""

    def __init__(
        self, url: str, table: str = "decision_audit", timeouts: DatabaseTimeouts | None = None
    ) -> None:
        if url.startswith("sqlite:///"):
            from pathlib import Path

            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url, timeouts)
        self.metadata = MetaData()
        self.table = audit_table(table, self.metadata)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._schema_ready = False
        self.inline = url.startswith("sqlite")
        self._lock = threading.Lock()
        self._running = False

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._ensure_schema()
        except Exception as exc:  # the API still starts; /ready and audited routes say 503
            log.warning("audit database unreachable at start: %s", type(exc).__name__)
        self._running = True
        if not self.inline:
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

    # -- writing ---------------------------------------------------------------------------
    def submit(self, entries: Sequence[AuditEntry], done: Done) -> None:
        """Queue rows; ``done`` is called from the writer thread once they are committed (None)
        or failed (the exception)."""
        if not self._running:
            done(AuditUnavailableError("audit log is not running"))
            return
        if self.inline:
            with self._lock:
                self._write([(entries, done)])
            return
        self._queue.put((entries, done))

    async def record(self, *entries: AuditEntry) -> None:
        """Await the commit of ``entries``; raises AuditUnavailableError when it fails."""
        if self.inline:
            self.record_sync(*entries)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def done(exc: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, exc)

        self.submit(entries, done)
        await future

    def record_sync(self, *entries: AuditEntry) -> None:
        """Blocking variant for threads and tests."""
        finished = threading.Event()
        errors: list[BaseException] = []

        def done(exc: BaseException | None) -> None:
            if exc is not None:
                errors.append(exc)
            finished.set()

        self.submit(entries, done)
        finished.wait()
        if errors:
            raise AuditUnavailableError(str(errors[0])) from errors[0]

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
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
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[tuple[Sequence[AuditEntry], Done]]) -> None:
        now = datetime.now(UTC)
        rows = [dict(asdict(entry), at=now) for entries, _ in batch for entry in entries]
        error: BaseException | None = None
        try:
            self._ensure_schema()
            with self.engine.begin() as conn:
                conn.execute(self.table.insert(), rows)
        except Exception as exc:
            log.error("audit write failed: %s", type(exc).__name__)
            error = AuditUnavailableError("decision audit log unavailable")
        for _, done in batch:
            done(error)

    # -- reading (tests, ops) --------------------------------------------------------------
    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execute(self.table.select().order_by(self.table.c.id))
            return [dict(row._mapping) for row in result]


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
