"""A bounded rolling sample of the model-ready rows a service scored, and their drift against
the training reference (scoring.drift), recomputed at most every `refresh_s` seconds or
`refresh_rows` new rows.

Only feature values are kept: no client id, no request id, no time per client beyond the
arrival time used to age rows out. The sample lives in memory (one per API worker), is never
written anywhere, and forgets everything older than `max_age_s` or beyond `max_rows`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

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


class ServedWindow:
    """Thread-safe: `add` is called by the request handlers, `summary` from a worker thread."""

    def __init__(
        self,
        reference: pd.DataFrame,
        categorical: set[str],
        settings: WindowSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reference = reference
        self.categorical = categorical
        self.settings = settings or WindowSettings()
        self._clock = clock
        self._values = np.full((self.settings.max_rows, reference.shape[1]), np.nan, "float32")
        self._times = np.full(self.settings.max_rows, -np.inf)
        self._next = 0  # where the next row goes (a ring)
        self._added = 0  # rows ever added: what "new rows since" counts
        self._lock = threading.Lock()
        self._computing = threading.Lock()
        self._cached: WindowSummary | None = None
        self._cached_added = -1
        self._cached_rows = -1
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
        now = self._clock()
        with self._lock:
            positions = (self._next + np.arange(len(matrix))) % size
            self._values[positions] = matrix
            self._times[positions] = now
            self._next = int((self._next + len(matrix)) % size)
            self._added += len(matrix)

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The rows still in the window (young enough), their arrival times, rows ever added."""
        oldest = self._clock() - self.settings.max_age_s
        with self._lock:
            keep = self._times >= oldest
            return self._values[keep].copy(), self._times[keep].copy(), self._added

    def _fresh(self, rows: int, added: int) -> bool:
        if self._cached is None:
            return False
        if rows == self._cached_rows and added == self._cached_added:
            return True  # nothing changed
        new = added - self._cached_added
        recent = self._clock() - self._cached_at < self.settings.refresh_s
        return recent and new < self.settings.refresh_rows

    def summary(self) -> WindowSummary:
        """The drift of the window's rows: the cached one while it is fresh enough."""
        with self._computing:  # one computation at a time; the others get its result
            values, times, added = self._snapshot()
            rows = len(values)
            since = _when(times.min()) if rows else None
            until = _when(times.max()) if rows else None
            if rows < self.settings.min_rows:
                return WindowSummary("insufficient_data", rows, since, until, None, None)
            if self._fresh(rows, added) and self._cached is not None:
                return self._cached
            current = pd.DataFrame(values, columns=self.reference.columns)
            report = compare(self.reference, current, self.categorical)
            summary = WindowSummary("ok", rows, since, until, _when(self._clock()), report)
            self._cached, self._cached_rows, self._cached_added = summary, rows, added
            self._cached_at = self._clock()
            return summary


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(float(timestamp), UTC).replace(microsecond=0)
