"""Inverse-CDF sampling from profile laws: frequencies, quantiles, a point mass at 0, rows."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.sampling import categorical_rows, from_frequencies, numeric_values

LEVELS = [0.0, 50.0, 100.0]


def test_frequencies_follow_their_shares() -> None:
    u = np.array([0.0, 0.59, 0.6, 0.99])
    assert from_frequencies(u, [["a", 0.6], ["b", 0.4]]).tolist() == ["a", "a", "b", "b"]


def test_quantiles_interpolate_round_and_clip() -> None:
    law = {"quantiles": [10.0, 20.0, 40.0], "min": 10, "max": 40, "step": 5}
    got = numeric_values(np.array([0.0, 0.25, 0.5, 0.76, 1.0]), law, LEVELS)
    assert got.tolist() == [10.0, 15.0, 20.0, 30.0, 40.0]


def test_zero_rate_takes_the_lowest_uniforms_and_quantiles_the_rest() -> None:
    """No smearing: below the point mass exactly 0, above it the law of the non-zero values."""
    law = {"zero_rate": 0.8, "quantiles": [6.0, 30.0, 2600.0], "min": 6, "max": 2600, "step": 1}
    u = np.array([0.0, 0.5, 0.799, 0.8, 0.9, 1.0])
    assert numeric_values(u, law, LEVELS).tolist() == [0.0, 0.0, 0.0, 6.0, 30.0, 2600.0]
    draws = numeric_values(np.random.default_rng(0).random(20_000), law, LEVELS)
    assert (draws == 0).mean() == pytest.approx(0.8, abs=0.01)
    assert (draws[draws > 0] >= 6).all()


def test_categorical_rows_draw_each_row_from_its_own_probabilities() -> None:
    rng = np.random.default_rng(1)
    probabilities = np.tile([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], (500, 1))
    index = categorical_rows(probabilities, rng)
    assert (index[0::2] == 0).all()
    assert (index[1::2] == 2).all()
    mixed = categorical_rows(np.tile([[0.25, 0.75]], (20_000, 1)), rng)
    assert mixed.mean() == pytest.approx(0.75, abs=0.01)
