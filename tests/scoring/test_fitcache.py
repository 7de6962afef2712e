"""The fit cache: a fit is reused only for the very same recipe on the very same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.fitcache import FitCache, rows_digest


def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [0.0, 1.0, 0.0]}, index=[10, 11, 12])


def test_the_same_key_fits_once() -> None:
    cache = FitCache()
    calls: list[int] = []

    def fit() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get("k", fit) == 1
    assert cache.get("k", fit) == 1
    assert cache.get("other", fit) == 2
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_digest_sees_columns_index_values_target_and_categories() -> None:
    y = np.array([0, 1, 0])
    base = rows_digest(frame(), y)
    assert rows_digest(frame(), y.copy()) == base
    changed_value = frame()
    changed_value.iloc[0, 0] = 1.5
    assert rows_digest(changed_value, y) != base
    assert rows_digest(frame().rename(columns={"a": "c"}), y) != base
    assert rows_digest(frame().set_axis([10, 11, 13]), y) != base
    assert rows_digest(frame(), np.array([1, 1, 0])) != base
    assert rows_digest(frame(), y, ["b"]) != base
    assert rows_digest(frame().drop(columns=["b"]), y) != base
