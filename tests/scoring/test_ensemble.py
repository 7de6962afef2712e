"""Ensemble: blend SHAP adds up to the served log-odds, plain-file round trip, load errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from scoring.candidates import combine, fit_lightgbm
from scoring.data import validate_application
from scoring.ensemble import ENSEMBLE_FILE, Ensemble, booster_file, single, trimmed
from scoring.errors import BundleError
from scoring.features import FeatureBuilder
from scoring.schema import TARGET
from scoring.scorecard import Scorecard
from scoring.train import TrainConfig

FAST = TrainConfig(folds=2, n_estimators=40, early_stopping_rounds=10, threads=1)


@pytest.fixture(scope="module")
def data(
    small_tables: tuple[pd.DataFrame, pd.DataFrame],
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    train = validate_application(small_tables[0], "application_train", with_target=True)
    builder = FeatureBuilder().fit(train)
    return builder.transform(train), train[TARGET].to_numpy("int64"), builder.categorical_features


@pytest.fixture(scope="module")
def blend(data: tuple[pd.DataFrame, np.ndarray, list[str]]) -> Ensemble:
    """Two seeded boosters and a scorecard, uneven weights and an intercept."""
    X, y, categorical = data
    first = fit_lightgbm(X, y, categorical, FAST)
    second = fit_lightgbm(X, y, categorical, replace(FAST, seed=1))
    card = Ensemble(
        list(X.columns), scorecard=Scorecard.fit(X, y, categorical), scorecard_weight=1.0
    )
    return combine([(first, 0.6), (second, 0.3), (card, 0.45)], intercept=-0.2)


@pytest.fixture(scope="module")
def rows(data: tuple[pd.DataFrame, np.ndarray, list[str]]) -> np.ndarray:
    X = data[0].to_numpy(dtype="float64")
    assert np.isnan(X[:40]).any()  # missing values are explained too
    return X[:40]


def test_blend_shap_adds_up_to_the_served_log_odds(blend: Ensemble, rows: np.ndarray) -> None:
    contrib = blend.contributions(rows)
    assert contrib.shape == (len(rows), len(blend.feature_names) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), blend.predict_raw(rows), rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        blend.predict_proba(rows), 1 / (1 + np.exp(-blend.predict_raw(rows)))
    )
    assert np.ptp(contrib[:, -1]) == 0.0  # one base value for every row


def test_blend_is_the_weighted_sum_of_its_members(blend: Ensemble, rows: np.ndarray) -> None:
    assert blend.booster_weights == [0.6, 0.3]
    assert blend.scorecard is not None
    expected = -0.2 + 0.45 * blend.scorecard.predict_raw(rows)
    expected_contrib = 0.45 * blend.scorecard.contributions(rows)
    expected_contrib[:, -1] += -0.2
    for booster, weight in zip(blend.boosters, blend.booster_weights, strict=True):
        expected += weight * booster.predict(rows, raw_score=True)
        expected_contrib += weight * booster.predict(rows, pred_contrib=True)
    np.testing.assert_allclose(blend.predict_raw(rows), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(blend.contributions(rows), expected_contrib, rtol=0, atol=1e-12)


def test_one_booster_is_todays_model(blend: Ensemble, rows: np.ndarray) -> None:
    booster = blend.boosters[0]
    served = single(booster)
    # The same probability up to rounding (our sigmoid of the same raw score).
    np.testing.assert_allclose(
        served.predict_proba(rows), booster.predict(rows), rtol=0, atol=1e-15
    )
    np.testing.assert_array_equal(
        served.contributions(rows), booster.predict(rows, pred_contrib=True)
    )


def test_a_trimmed_booster_predicts_like_its_best_iteration(
    data: tuple[pd.DataFrame, np.ndarray, list[str]], rows: np.ndarray
) -> None:
    X, y, _categorical = data
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 30
    )
    short = trimmed(booster, 12)
    assert short.num_trees() == 12
    np.testing.assert_array_equal(short.predict(rows), booster.predict(rows, num_iteration=12))


def test_plain_files_round_trip(blend: Ensemble, rows: np.ndarray, tmp_path: Path) -> None:
    names = blend.save(tmp_path / "model")
    assert names == [ENSEMBLE_FILE, booster_file(0), booster_file(1)]
    state = json.loads((tmp_path / "model" / ENSEMBLE_FILE).read_text(encoding="utf-8"))
    assert state["booster_weights"] == [0.6, 0.3]
    again = Ensemble.load(tmp_path / "model")
    np.testing.assert_allclose(again.predict_raw(rows), blend.predict_raw(rows), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        again.contributions(rows), blend.contributions(rows), rtol=0, atol=1e-12
    )
    assert again.describe() == blend.describe()


def test_load_names_the_broken_file(blend: Ensemble, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    blend.save(folder)
    (folder / booster_file(1)).write_text("not a model", encoding="utf-8")
    with pytest.raises(BundleError, match=booster_file(1)):
        Ensemble.load(folder)
    (folder / ENSEMBLE_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(BundleError, match=ENSEMBLE_FILE):
        Ensemble.load(folder)


def test_load_refuses_boosters_with_other_features(blend: Ensemble, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    blend.save(folder)
    state = json.loads((folder / ENSEMBLE_FILE).read_text(encoding="utf-8"))
    state["feature_names"] = list(reversed(state["feature_names"]))
    (folder / ENSEMBLE_FILE).write_text(json.dumps(state), encoding="utf-8")
    with pytest.raises(BundleError, match="features differ"):
        Ensemble.load(folder)


def test_an_ensemble_needs_members_and_one_weight_each(blend: Ensemble) -> None:
    with pytest.raises(ValueError, match="at least one member"):
        Ensemble(["a"])
    with pytest.raises(ValueError, match="one weight per booster"):
        Ensemble(blend.feature_names, blend.boosters, [1.0])
    with pytest.raises(ValueError, match="one scorecard"):
        combine([(blend, 1.0), (blend, 1.0)])
