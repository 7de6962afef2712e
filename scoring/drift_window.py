"""A bounded rolling sample of the model-ready rows a service scored, and their drift against
the training reference (scoring.drift), recomputed at most every `refresh_s` seconds or
`refresh_rows` new rows.

Only feature values are kept: no client id, no request id, no time per client beyond the
arrival time used to age rows out, and nothing older than `max_age_s` or beyond `max_rows`.
Where the rows live is a `Rows`: in memory here (`MemoryRows`), in the audit database for the
API, shared by its workers and kept across restarts (api/drift_store.py, docs/drift.md).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from scoring.drift import DriftReport, compare

Status = Literal["ok", "insufficient_data"]


@dataclass(frozen=True)
class WindowSettings:
    max_rows: int = 5000  # the most recent rows kept
    max_age_s: float = 7 * 24 * 3600.0  # rows older than this are forgotten
    # Fewer rows than this: no verdict. On the demo clients against a 3000-row reference, 100
    # unshifted rows made 44 % of the features look drifted (the distances' noise on a small
    # sample), 500 rows 6 % (bench/drift.py, docs/drift.md).
    min_rows: int = 500
    refresh_s: float = 60.0  # a summary is recomputed at most this often...
    refresh_rows: int = 500  # ...unless this many rows arrived since it was computed


@dataclass(frozen=True)
class WindowSummary:
    status: Status
    rows: int  # rows in the window now
    since: datetime | None  # arrival of the oldest row in the window
    until: datetime | None  # arrival of the newest
    computed_at: datetime | None  # when the report was computed (None: no report)
    report: DriftReport | None  # None while there are fewer than min_rows rows


class Rows(Protocol):
    """Where a window's rows live: in memory (`MemoryRows`, one per process) or shared by every
    API worker in the audit database (api/drift_store.py)."""

    def add(self, matrix: np.ndarray) -> None:
        """Keep float32 rows in the reference's feature order (at most max_rows)."""

    def snapshot(self, oldest: float) -> tuple[np.ndarray, np.ndarray]:
        """The newest rows (at most max_rows) that arrived since `oldest`, and their times."""
        ...


class MemoryRows:
    """A ring of the latest `max_rows` rows, in this process only."""

    def __init__(self, features: int, max_rows: int, clock: Callable[[], float]) -> None:
        self._values = np.full((max_rows, features), np.nan, "float32")
        self._times = np.full(max_rows, -np.inf)
        self._next = 0  # where the next row goes
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, matrix: np.ndarray) -> None:
        size = len(self._times)
        now = self._clock()
        with self._lock:
            positions = (self._next + np.arange(len(matrix))) % size
            self._values[positions] = matrix
            self._times[positions] = now
            self._next = int((self._next + len(matrix)) % size)

    def snapshot(self, oldest: float) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            keep = self._times >= oldest
            return self._values[keep].copy(), self._times[keep].copy()


class ServedWindow:
    """Thread-safe: `add` is called by the request handlers, `summary` from a worker thread.

    The summary is cached: while it is younger than `refresh_s` and fewer than `refresh_rows`
    rows were added here, it is answered without reading the rows; after that the rows are
    read, and the report is recomputed only if they changed. With shared rows (every worker
    writes to them), each worker's cache follows the same policy, so every worker answers
    the same summary once it has refreshed."""

    def __init__(
        self,
        reference: pd.DataFrame,
        categorical: set[str],
        settings: WindowSettings | None = None,
        clock: Callable[[], float] = time.time,
        rows: Rows | None = None,
    ) -> None:
        self.reference = reference
        self.categorical = categorical
        self.settings = settings or WindowSettings()
        self._clock = clock
        self.rows = rows or MemoryRows(reference.shape[1], self.settings.max_rows, clock)
        self._added = 0  # rows added here: what "new rows since" counts
        self._computing = threading.Lock()
        self._cached: WindowSummary | None = None
        self._cached_token = b""
        self._cached_added = -1
        self._cached_at = -np.inf

    @property
    def features(self) -> int:
        return int(self.reference.shape[1])

    def add(self, rows: np.ndarray) -> None:
        """Keep model-ready rows (one row, or a matrix in the reference's feature order)."""
        matrix = np.asarray(rows, dtype="float32").reshape(-1, self.features)
        size = self.settings.max_rows
        if len(matrix) > size:
            matrix = matrix[-size:]
        self.rows.add(matrix)
        self._added += len(matrix)

    def _recent(self, added: int) -> bool:
        new = added - self._cached_added
        fresh = self._clock() - self._cached_at < self.settings.refresh_s
        return fresh and new < self.settings.refresh_rows

    def summary(self) -> WindowSummary:
        """The drift of the window's rows: the cached one while it is fresh enough."""
        with self._computing:  # one computation at a time; the others get its result
            added = self._added
            if self._cached is not None and self._recent(added):
                return self._cached
            values, times = self.rows.snapshot(self._clock() - self.settings.max_age_s)
            rows = len(values)
            since = _when(times.min()) if rows else None
            until = _when(times.max()) if rows else None
            if rows < self.settings.min_rows:
                self._cached = None
                return WindowSummary("insufficient_data", rows, since, until, None, None)
            token = _token(values, times)
            if self._cached is None or token != self._cached_token:
                current = pd.DataFrame(values, columns=self.reference.columns)
                report = compare(self.reference, current, self.categorical)
                self._cached = WindowSummary("ok", rows, since, until, _when(self._clock()), report)
                self._cached_token = token
            self._cached_added, self._cached_at = added, self._clock()
            return self._cached


def _token(values: np.ndarray, times: np.ndarray) -> bytes:
    """What the rows are, order aside (shared rows may come back in another order)."""
    digest = hashlib.blake2b(digest_size=16)
    order = np.lexsort(values.T[::-1]) if values.size else np.arange(len(values))
    digest.update(np.ascontiguousarray(values[order]).tobytes())
    digest.update(np.ascontiguousarray(np.sort(times)).tobytes())
    return digest.digest()


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(float(timestamp), UTC).replace(microsecond=0)
