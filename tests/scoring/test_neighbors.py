"""The k-NN index over reference clients: exact, ordered, deterministic, NaN-proof."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.neighbors import NeighborIndex, robust_scale


@pytest.fixture
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 2000
    frame = pd.DataFrame(
        {
            "TARGET": rng.integers(0, 2, n),
            "probability": rng.random(n),
            "a": rng.normal(0, 1, n),
            "b": rng.normal(1000, 300, n),
            "c": np.where(rng.random(n) < 0.2, np.nan, rng.normal(5, 2, n)),
        },
        index=pd.Index(np.arange(100_000, 100_000 + n), name="SK_ID_CURR"),
    )
    return frame


def brute_force(index: NeighborIndex, row: dict[str, float | None], k: int) -> np.ndarray:
    q = index.vector(row)
    d = np.sqrt(((index.matrix.astype(np.float64) - q) ** 2).sum(axis=1))
    order = np.lexsort((index.ids, d))[:k]
    return index.ids[order]


def test_query_matches_brute_force(reference: pd.DataFrame) -> None:
    index = NeighborIndex.build(reference)
    assert index.features == ["a", "b", "c"]
    row = {"a": 0.3, "b": 900.0, "c": None}
    result = index.query(row, k=15)
    assert list(result.ids) == list(brute_force(index, row, 15))
    assert np.all(np.diff(result.distances) >= 0)
    assert result.default_rate == pytest.approx(result.target.mean())
    assert result.probability.shape == (15,)


def test_a_reference_row_is_its_own_nearest(reference: pd.DataFrame) -> None:
    index = NeighborIndex.build(reference)
    client = reference.iloc[42]
    row = {n: (None if pd.isna(client[n]) else float(client[n])) for n in index.features}
    result = index.query(row, k=1)
    assert result.ids[0] == reference.index[42]
    assert result.distances[0] == pytest.approx(0.0, abs=1e-6)


def test_k_larger_than_population_and_deterministic(reference: pd.DataFrame) -> None:
    small = NeighborIndex.build(reference.head(5))
    result = small.query({"a": 0.0}, k=50)
    assert len(result.ids) == 5
    again = small.query({"a": 0.0}, k=50)
    assert list(result.ids) == list(again.ids)
    with pytest.raises(ValueError, match="k must be"):
        small.query({"a": 0.0}, k=0)


def test_scaling_is_robust_and_handles_constant_and_empty_columns() -> None:
    values = np.array(
        [[1.0, 5.0, np.nan], [2.0, 5.0, np.nan], [3.0, 5.0, np.nan], [100.0, 5.0, np.nan]]
    )
    center, scale = robust_scale(values)
    assert center[0] == pytest.approx(2.5)
    assert scale[1] == 1.0  # constant column
    assert center[2] == 0.0
    assert scale[2] == 1.0
    assert np.all(np.isfinite(scale))


def test_build_requires_features() -> None:
    frame = pd.DataFrame({"TARGET": [0, 1], "probability": [0.1, 0.9]})
    with pytest.raises(ValueError, match="no feature"):
        NeighborIndex.build(frame)
