"""scoring.onerow: one row through the booster in one C call, as Booster.predict computes it."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from scoring.model import ScoringModel
from scoring.onerow import OneRow, fits


def _booster(model: ScoringModel) -> lgb.Booster:
    if model.booster is None:
        pytest.skip("the demo bundle serves an ensemble")
    return model.booster


def test_probability_and_shap_equal_booster_predict(
    model: ScoringModel, sample_rows: np.ndarray
) -> None:
    booster = _booster(model)
    one = OneRow(booster)
    rows = np.vstack([sample_rows, np.full(sample_rows.shape[1], np.nan)])  # all missing too
    for x in rows:
        expected = booster.predict(x.reshape(1, -1), num_threads=1)[0]
        assert one.probability(x) == expected
        contrib = booster.predict(x.reshape(1, -1), pred_contrib=True, num_threads=1)[0]
        np.testing.assert_array_equal(one.contributions(x), contrib)


def test_model_score_and_explain_use_the_same_numbers(
    model: ScoringModel, sample_rows: np.ndarray
) -> None:
    booster = _booster(model)
    for x in sample_rows:
        assert model.score(x).probability == float(booster.predict(x.reshape(1, -1))[0])
        expl = model.explain(x)
        contrib = booster.predict(x.reshape(1, -1), pred_contrib=True)[0]
        np.testing.assert_array_equal(expl.shap, contrib[:-1])
        assert expl.base_value == contrib[-1]


def test_a_row_of_the_wrong_width_is_refused(model: ScoringModel) -> None:
    one = OneRow(_booster(model))
    with pytest.raises(ValueError, match=f"expected {len(model.feature_names)} features, got 3"):
        one.probability(np.zeros(3))


def test_a_multiclass_booster_is_not_served() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), np.arange(60) % 3
    params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=2)
    assert not fits(booster)
    with pytest.raises(ValueError, match="one output per row"):
        OneRow(booster)
