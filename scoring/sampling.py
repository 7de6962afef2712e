"""Inverse-CDF sampling from the laws stored in the demo-data profiles: uniforms in, values out.

Shared by the application generator (``scoring.demo_data``) and the auxiliary tables
(``scoring.demo_aux``), so both read a profile's frequencies and quantile functions the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def from_frequencies(u: np.ndarray, pairs: Sequence[Sequence[Any]]) -> np.ndarray:
    """Inverse CDF of a discrete law given as [[value, share], ...]."""
    shares = np.array([share for _, share in pairs], dtype=float)
    cumulative = np.cumsum(shares) / shares.sum()
    index = np.minimum(np.searchsorted(cumulative, u, side="right"), len(pairs) - 1)
    values = np.array([value for value, _ in pairs], dtype=object)
    return values[index]


def from_quantiles(u: np.ndarray, levels: Sequence[float], law: dict[str, Any]) -> np.ndarray:
    """Piecewise-linear quantile function, then the law's own rounding and bounds."""
    values = np.interp(u * 100.0, levels, law["quantiles"])
    step = law.get("step")
    decimals = law.get("decimals")
    if step:
        values = np.round(values / step) * step
    elif decimals is not None:
        values = np.round(values, decimals)
    return np.clip(values, law["min"], law["max"])


def numeric_values(u: np.ndarray, law: dict[str, Any], levels: Sequence[float]) -> np.ndarray:
    """A numeric column's values: its value frequencies when discrete, else its quantiles; a
    law's `zero_rate` (point mass at 0) takes the lowest uniforms, the quantiles the rest."""
    if "values" in law:
        return from_frequencies(u, law["values"]).astype(float)
    zero_rate = float(law.get("zero_rate", 0.0))
    if zero_rate > 0:
        rest = np.clip((u - zero_rate) / (1 - zero_rate), 0.0, 1.0)
        return np.where(u < zero_rate, 0.0, from_quantiles(rest, levels, law))
    return from_quantiles(u, levels, law)


def categorical_rows(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category index per row, row i drawn with the probabilities of row i (rows sum to 1)."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((u >= cumulative).sum(axis=1), probabilities.shape[1] - 1)
