"""WoE scorecard: bins, missing and unseen values, exact SHAP, plain-file round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from scoring.scorecard import BROADCAST_ROWS, SMOOTHING, Scorecard


@pytest.fixture(scope="module")
def toy() -> tuple[pd.DataFrame, np.ndarray]:
    """Risk rises with `debt`, falls with `score`; `kind` is a category code; gaps are NaN."""
    rng = np.random.default_rng(0)
    n = 2000
    debt = rng.normal(size=n)
    score = rng.uniform(size=n)
    kind = rng.integers(0, 3, size=n).astype("float64")
    logit = -2.5 + 1.2 * debt - 2.0 * score + 0.8 * (kind == 2)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype("int64")
    debt[rng.uniform(size=n) < 0.1] = np.nan
    X = pd.DataFrame({"debt": debt, "score": score, "kind": kind})
    return X, y


@pytest.fixture(scope="module")
def card(toy: tuple[pd.DataFrame, np.ndarray]) -> Scorecard:
    X, y = toy
    return Scorecard.fit(X, y, categorical=["kind"], c=1.0)


def test_bins_are_quantiles_for_numbers_and_levels_for_categories(card: Scorecard) -> None:
    finite = [row[np.isfinite(row)] for row in card.cuts]
    assert len(finite[0]) == 9  # debt: 10 quantile bins
    assert len(finite[1]) == 9
    np.testing.assert_allclose(finite[2], [0.5, 1.5])  # kind: one bin per level
    assert card.woe.shape == (3, card.cuts.shape[1] + 2)


def test_woe_of_a_bin_is_its_shrunk_log_odds_minus_the_prior() -> None:
    X = pd.DataFrame({"flag": [0.0] * 6 + [1.0] * 4})
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 0, 0])
    card = Scorecard.fit(X, y)
    rate = 0.3  # 3 defaults in 10 rows
    prior = np.log(rate / (1 - rate))
    expected_zero = np.log((1 + SMOOTHING * rate) / (5 + SMOOTHING * (1 - rate))) - prior
    expected_one = np.log((2 + SMOOTHING * rate) / (2 + SMOOTHING * (1 - rate))) - prior
    np.testing.assert_allclose(
        card.transform(np.array([[0.0], [1.0]]))[:, 0], [expected_zero, expected_one]
    )
    assert card.transform(np.array([[np.nan]]))[0, 0] == 0.0  # no missing row seen: neutral


def test_it_learns_the_directions_of_risk(
    card: Scorecard, toy: tuple[pd.DataFrame, np.ndarray]
) -> None:
    X, y = toy
    assert roc_auc_score(y, card.predict_raw(X.to_numpy())) > 0.7
    low, high = np.array([[-2.0, 0.5, 0.0]]), np.array([[2.0, 0.5, 0.0]])
    assert card.predict_raw(high)[0] > card.predict_raw(low)[0]


def test_missing_and_unseen_values_use_the_missing_bin(card: Scorecard) -> None:
    missing = card.transform(np.array([[np.nan, 0.5, np.nan]]))[0]
    assert missing[0] == card.woe[0, -1]
    assert missing[2] == card.woe[2, -1]
    assert np.isfinite(card.predict_raw(np.array([[np.nan, np.nan, np.nan]]))).all()


def test_contributions_are_exact_interventional_shap(
    card: Scorecard, toy: tuple[pd.DataFrame, np.ndarray]
) -> None:
    X, _ = toy
    background = X.to_numpy()
    rows = background[:25]
    contrib = card.contributions(rows)
    np.testing.assert_allclose(contrib.sum(axis=1), card.predict_raw(rows), rtol=0, atol=1e-9)
    # Definition: E[f(x_j, B_-j)] - E[f(B)] over the training rows, feature by feature.
    mean_f = card.predict_raw(background).mean()
    for i in (0, 3):
        for j in range(background.shape[1]):
            swapped = background.copy()
            swapped[:, j] = rows[i, j]
            expected = card.predict_raw(swapped).mean() - mean_f
            assert contrib[i, j] == pytest.approx(expected, abs=1e-9)
    assert contrib[0, -1] == pytest.approx(mean_f, abs=1e-9)


def test_plain_json_round_trip_predicts_the_same(card: Scorecard) -> None:
    state = json.loads(json.dumps(card.to_dict(), allow_nan=False))
    again = Scorecard.from_dict(state)
    rows = np.array([[0.3, 0.1, 2.0], [np.nan, 0.9, 7.0], [99.0, -1.0, 0.0]])
    np.testing.assert_array_equal(again.predict_raw(rows), card.predict_raw(rows))
    np.testing.assert_array_equal(again.contributions(rows), card.contributions(rows))


def test_a_grid_of_strengths_equals_one_fit_per_strength(
    toy: tuple[pd.DataFrame, np.ndarray],
) -> None:
    X, y = toy
    grid = Scorecard.fit_grid(X, y, ["kind"], cs=(0.01, 1.0))
    for c, from_grid in zip((0.01, 1.0), grid, strict=True):
        alone = Scorecard.fit(X, y, ["kind"], c=c)
        np.testing.assert_array_equal(from_grid.coef, alone.coef)
        np.testing.assert_array_equal(from_grid.woe, alone.woe)
        assert from_grid.intercept == alone.intercept
    assert not np.array_equal(grid[0].coef, grid[1].coef)  # the strength did matter


def test_many_rows_are_binned_as_one_row_at_a_time(card: Scorecard) -> None:
    """The binary search used for many rows gives the broadcast comparison's bins, NaN and
    infinities included."""
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(BROADCAST_ROWS * 3, 3))
    rows[::7, 0] = np.nan
    rows[1, 1], rows[2, 1] = np.inf, -np.inf
    rows[3, 2] = 2.0  # exactly a category level
    many = card.transform(rows)
    one_by_one = np.vstack([card.transform(rows[i]) for i in range(len(rows))])
    np.testing.assert_array_equal(many, one_by_one)
