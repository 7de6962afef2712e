"""Fits shared inside one training run: the same recipe on the same rows is computed once.

The comparison fits many recipes on the same training folds: the blend's LightGBM on a fold is
exactly the LightGBM candidate's fit on that fold, its scorecard and the scorecard's L2
strength are the scorecard candidate's, and `train` cross-validates LightGBM on the very folds
the comparison used. A `FitCache` (one per `FitContext`, so one per run) keys each fit by what
determines it: the recipe and its settings, and a digest of the rows (column names, index,
values, target), so a hit returns the object the same call would have computed. Fitted models
are not mutated after fitting (ensembles are combined into new objects), so sharing is safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

import numpy as np
import pandas as pd

T = TypeVar("T")


def rows_digest(X: pd.DataFrame, y: np.ndarray, categorical: Sequence[str] = ()) -> str:
    """What a fit sees of its rows: column names, categorical ones, index, values and target."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((list(X.columns), list(categorical))).encode())
    digest.update(np.ascontiguousarray(X.index.to_numpy()).tobytes())
    values = X.to_numpy(dtype="float64")
    # Hashed in its own memory order, without a copy; the order and shape join the digest.
    column_major = bool(values.flags.f_contiguous and not values.flags.c_contiguous)
    digest.update(repr((values.shape, column_major)).encode())
    digest.update((values.T if column_major else np.ascontiguousarray(values)).data)
    digest.update(np.ascontiguousarray(np.asarray(y, dtype="float64")).data)
    return digest.hexdigest()


@dataclass
class FitCache:
    entries: dict[Hashable, object] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def get(self, key: Hashable, fit: Callable[[], T]) -> T:
        """The value stored under `key`, fitting (and storing) it on the first call."""
        if key in self.entries:
            self.hits += 1
            return cast(T, self.entries[key])  # stored by this very key
        self.misses += 1
        value = fit()
        self.entries[key] = value
        return value
