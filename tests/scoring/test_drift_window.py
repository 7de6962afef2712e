"""The rolling window of served rows (scoring/drift_window.py): bounded by rows and age, no
verdict below min_rows, recomputed only when enough changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.drift_window import ServedWindow, WindowSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    # at most 1000 rows: the Kolmogorov-Smirnov test, whose p-value allows for small samples
    return pd.DataFrame({"a": rng.normal(0, 1, 800), "b": rng.normal(5, 2, 800)})


def _window(reference: pd.DataFrame, clock: Clock, **changes: float) -> ServedWindow:
    settings = {"max_rows": 400, "max_age_s": 3600.0, "min_rows": 100}
    settings |= {"refresh_s": 60.0, "refresh_rows": 50, **changes}
    return ServedWindow(reference, set(), WindowSettings(**settings), clock=clock)  # type: ignore[arg-type]


def _rows(n: int, shift: float = 0.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(shift, 1, n), rng.normal(5 + 2 * shift, 2, n)])


def test_no_verdict_below_min_rows_then_a_report(reference: pd.DataFrame) -> None:
    clock = Clock()
    window = _window(reference, clock)
    window.add(_rows(99))
    early = window.summary()
    assert (early.status, early.rows, early.report) == ("insufficient_data", 99, None)
    window.add(_rows(1)[0])  # one row, as /v1/predict gives it
    summary = window.summary()
    assert summary.status == "ok"
    assert summary.rows == 100
    assert summary.report is not None
    assert summary.report.dataset_drift is False


def test_the_window_keeps_the_latest_rows_and_forgets_old_ones(reference: pd.DataFrame) -> None:
    clock = Clock()
    window = _window(reference, clock, refresh_s=0.0)
    window.add(_rows(400))
    clock.now += 100
    window.add(_rows(300, shift=2.0))  # overwrites the 300 oldest
    summary = window.summary()
    assert summary.rows == 400  # max_rows
    assert summary.report is not None
    assert set(summary.report.drifted) == {"a", "b"}
    assert summary.since is not None
    assert summary.until is not None
    assert (summary.until - summary.since).total_seconds() == 100
    clock.now += 3550  # the first rows are now older than max_age_s
    aged = window.summary()
    assert aged.rows == 300


def test_the_summary_is_reused_until_enough_changed(reference: pd.DataFrame) -> None:
    clock = Clock()
    window = _window(reference, clock)
    window.add(_rows(200))
    first = window.summary()
    window.add(_rows(49, shift=3.0))  # fewer than refresh_rows, within refresh_s
    assert window.summary() is first
    clock.now += 61  # refresh_s passed: recomputed with the new rows
    second = window.summary()
    assert second is not first
    assert second.rows == 249
    window.add(_rows(50, shift=3.0, seed=2))  # refresh_rows arrived: recomputed at once
    third = window.summary()
    assert third is not second
    assert third.rows == 299
    assert window.summary() is third  # nothing changed


def test_only_feature_values_are_kept(reference: pd.DataFrame) -> None:
    window = _window(reference, Clock())
    with pytest.raises(ValueError, match="reshape"):
        window.add(np.zeros((3, 3)))  # not the reference's features
    window.add(_rows(2))
    assert window.rows._values.shape == (400, 2)
    assert window.rows._values.dtype == np.float32
