"""The drift window shared by every API worker and kept across restarts (docs/drift.md): the
model-ready feature values of the applications served, in the audit database, next to the
audit log (table ``<AUDIT_TABLE>_drift``, api/migrations 0003).

One row per application served: the minute it was served (``minute``, minutes since the
epoch: what aging rows out needs, no finer), which feature list the vector follows
(``features``, a fingerprint of the model's feature names) and the vector itself (``vector``,
float32). No id of any kind: no client id, request id, key name or row number; the rows of
one write are shuffled, so the order they were stored in does not follow the requests.

Rows are queued by the request handlers after the decision's audit row is committed (bounded:
beyond `QUEUE_ROWS` waiting rows are dropped, never the request; of what waits only the newest
``max_rows`` are kept, older batches superseded at once) and written by the audit writer thread
in their own transaction after the audit rows' group commit, at most once every `WRITE_S`
under load, so a drift row never fails a decision and costs the audit log's commits little.
The writer prunes the table: rows older than ``max_age_s`` and beyond the newest ``max_rows``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy.sql.expression import ColumnClause

from api.bulkinsert import BulkInsert

log = logging.getLogger("api.drift")

GRAIN_S = 60  # a row's time: the minute it was served
PRUNE_S = 1.0  # the writer prunes at most this often
QUEUE_ROWS = 20_000  # rows waiting for the writer (9 MB at 116 features); beyond: dropped
# Under load the writer writes drift rows at most this often, so their commits cost the audit
# log's group commits little; when idle, at once. Only the newest `max_rows` of what waits are
# kept (older ones would be pruned as soon as written), so what waits is bounded by the window
# and a write is never due for its size: under a load of 1,000-record batches (~13 a second)
# the writer wrote the whole window, 5,000 rows, every 0.8 s (the former 10,000-row trigger)
# and pruned as many, 45 % of its CPU; a summary now covers the window as it was up to 5 s
# before (of a window of 5,000 applications over 7 days by default).
WRITE_S = 5.0


class DriftUnavailableError(RuntimeError):
    """The shared drift window cannot be read (the audit database does not answer)."""


def drift_table_name(audit_table: str) -> str:
    return f"{audit_table}_drift"[:63]


def drift_table(audit_table: str, metadata: MetaData) -> Table:
    """The drift window's table: its one definition (revision 0003 creates it)."""
    return Table(
        drift_table_name(audit_table),
        metadata,
        Column("minute", Integer, nullable=False),
        Column("features", String(16), nullable=False),
        Column("vector", LargeBinary, nullable=False),
    )


def fingerprint(feature_names: Sequence[str]) -> str:
    """Which feature list (and order) a vector follows: rows of another bundle are skipped."""
    return hashlib.sha256("\n".join(feature_names).encode()).hexdigest()[:16]


class DriftStore:
    """The writer side (``add``, ``write``, ``prune``) and the reader side (``snapshot``)."""

    def __init__(
        self,
        engine: Engine,
        audit_table: str,
        feature_names: Sequence[str],
        max_rows: int,
        max_age_s: float,
        *,
        queue_rows: int = QUEUE_ROWS,
        prune_s: float = PRUNE_S,
        write_s: float = WRITE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.table = drift_table(audit_table, MetaData())
        self._bulk = BulkInsert(self.table, engine, ("minute", "features", "vector"))
        self.features = len(feature_names)
        self.fingerprint = fingerprint(feature_names)
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self.prune_s = prune_s
        self.write_s = write_s
        self._last_write = -math.inf  # time.monotonic() of the last write
        self._waiting = 0  # rows queued, not yet taken by the writer
        self._clock = clock
        self.queue_rows = queue_rows
        self._queue: deque[np.ndarray] = deque()  # the batches waiting, oldest first
        self._rng = np.random.default_rng()
        self._last_prune = -math.inf
        self._lock = threading.Lock()  # one write or prune at a time (the writer; tests)
        self._count = threading.Lock()  # guards _waiting
        self.written = 0  # rows written by this worker
        self.dropped = 0  # rows lost: queue full or write failed
        self.superseded = 0  # rows never written: newer rows filled the window before a write

    # -- request side: never raises, never waits -------------------------------------------
    def add(self, matrix: np.ndarray) -> None:
        with self._count:
            room = self._waiting + len(matrix) <= self.queue_rows
            if room:
                waiting = self._queue
                waiting.append(matrix)
                self._waiting += len(matrix)
                # the oldest batches that the newer ones push out of the window
                while self._waiting - len(waiting[0]) >= self.max_rows:
                    gone = len(waiting.popleft())
                    self._waiting -= gone
                    self.superseded += gone
        if not room:
            self.dropped += len(matrix)
            if self.dropped == len(matrix) or self.dropped % 10_000 < len(matrix):
                log.warning("drift queue full: %d rows dropped so far", self.dropped)

    @property
    def pending(self) -> int:
        """Batches waiting for the writer."""
        return len(self._queue)

    # -- writer side: never raises ---------------------------------------------------------
    def write(self, force: bool = True) -> bool:
        """Write what is queued (one transaction), then prune when due; True when rows were
        written. Not forced: only once `write_s` passed since the last write (the audit writer
        under load)."""
        if not (force or time.monotonic() - self._last_write >= self.write_s):
            return False
        self._last_write = time.monotonic()
        with self._count:
            matrices = list(self._queue)
            self._queue.clear()
            self._waiting = 0
        wrote = False
        with self._lock:
            if matrices:
                wrote = self._insert(np.concatenate(matrices)[-self.max_rows :])
            if wrote and self._clock() - self._last_prune >= self.prune_s:
                self._prune()
        return wrote

    def _insert(self, rows: np.ndarray) -> bool:
        rows = np.ascontiguousarray(rows[self._rng.permutation(len(rows))], dtype="<f4")
        minute = int(self._clock() // GRAIN_S)
        features = self.fingerprint
        params = self._bulk.params([minute, features, row.tobytes()] for row in rows)
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(self._bulk.sql, params)
        except Exception as exc:
            self.dropped += len(rows)
            log.warning("drift rows not written (%d dropped): %s", len(rows), type(exc).__name__)
            return False
        self.written += len(rows)
        return True

    def prune(self) -> None:
        with self._lock:
            self._prune()

    def _prune(self) -> None:
        """Delete rows older than max_age_s, then the oldest beyond max_rows."""
        self._last_prune = self._clock()
        table = self.table
        try:
            with self.engine.begin() as conn:
                postgres = conn.dialect.name == "postgresql"
                if postgres:  # two workers pruning at once would both delete the excess
                    name = conn.dialect.identifier_preparer.quote(table.name)
                    conn.exec_driver_sql(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE")
                conn.execute(delete(table).where(table.c.minute < self._first_minute()))
                count = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                excess = count - self.max_rows
                if excess > 0:
                    # the physical row (no id column): rowid in SQLite, ctid in PostgreSQL
                    row: ColumnClause[Any] = literal_column("ctid" if postgres else "rowid")
                    oldest = select(row).select_from(table).order_by(table.c.minute)
                    conn.execute(delete(table).where(row.in_(oldest.limit(excess))))
        except Exception as exc:
            log.warning("drift window not pruned: %s", type(exc).__name__)

    def _first_minute(self) -> int:
        """The oldest minute still in the window."""
        return math.ceil((self._clock() - self.max_age_s) / GRAIN_S)

    # -- reader side -----------------------------------------------------------------------
    def snapshot(self, oldest: float) -> tuple[np.ndarray, np.ndarray]:
        """The newest max_rows vectors of this feature list served since ``oldest`` (seconds),
        and the time of each (the start of its minute). DriftUnavailableError when the
        database does not answer."""
        table = self.table
        first = math.ceil(oldest / GRAIN_S)
        query = (
            select(table.c.minute, table.c.vector)
            .where(table.c.features == self.fingerprint, table.c.minute >= first)
            .order_by(table.c.minute.desc(), table.c.vector)  # the same rows for every worker
            .limit(self.max_rows)
        )
        try:
            with self.engine.connect() as conn:
                result = conn.execute(query).all()
        except Exception as exc:
            log.warning("drift window not read: %s", type(exc).__name__)
            raise DriftUnavailableError(
                "drift window unavailable: the audit database does not answer"
            ) from None
        width = self.features * 4
        vectors = [bytes(vector) for _, vector in result if len(vector) == width]
        times = [minute * float(GRAIN_S) for minute, vector in result if len(vector) == width]
        values = np.frombuffer(b"".join(vectors), dtype="<f4").reshape(-1, self.features)
        return values.astype("float32"), np.asarray(times, dtype="float64")
