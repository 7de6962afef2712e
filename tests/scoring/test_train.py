"""Training: honest out-of-fold predictions, threshold and metrics, reproducible for a seed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from scoring.assemble import assemble_bundle, feature_catalogue, global_importance
from scoring.cost import CostWeights, best_threshold, business_cost
from scoring.data import validate_application
from scoring.features import FeatureBuilder
from scoring.schema import TARGET
from scoring.train import (
    DEFAULT_PARAMS,
    CVResult,
    TrainConfig,
    TrainResult,
    cross_validate,
    evaluate,
    final_rounds,
    train_model,
)

FAST = TrainConfig(folds=3, n_estimators=40, early_stopping_rounds=10, threads=1)


@pytest.fixture(scope="module")
def trained(small_tables: tuple[pd.DataFrame, pd.DataFrame]) -> TrainResult:
    train = validate_application(small_tables[0], "application_train", with_target=True)
    return train_model(train, None, FAST)


def test_lgb_params_merge_defaults_overrides_and_seed() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    params = TrainConfig(seed=7, params={"num_leaves": 31}, threads=2).lgb_params(y)
    assert params["num_leaves"] == 31
    assert params["learning_rate"] == DEFAULT_PARAMS["learning_rate"]
    assert (params["seed"], params["num_threads"]) == (7, 2)
    assert "scale_pos_weight" not in params
    balanced = TrainConfig(class_weight="balanced").lgb_params(y)
    assert balanced["scale_pos_weight"] == pytest.approx(8 / 2)


def test_final_rounds_scale_the_median_for_the_extra_rows() -> None:
    cv = CVResult(oof=np.zeros(3), fold_auc=[0.7] * 3, best_iterations=[80, 100, 300])
    assert final_rounds(cv, share=0.2) == 125  # median 100 / (1 - 0.2)
    assert final_rounds(CVResult(np.zeros(1), [0.5], [0]), share=0.15) == 1


def test_cross_validation_predicts_every_row_out_of_fold(trained: TrainResult) -> None:
    cv = trained.cv
    assert cv.oof.shape == trained.target.shape
    assert np.all((cv.oof > 0) & (cv.oof < 1))
    assert len(cv.fold_auc) == 3
    assert all(1 <= it <= FAST.n_estimators for it in cv.best_iterations)
    assert trained.metrics["auc"] == pytest.approx(roc_auc_score(trained.target, cv.oof))
    assert trained.metrics["auc_std"] == pytest.approx(np.std(cv.fold_auc))


def test_threshold_and_metrics_come_from_the_oof_predictions(trained: TrainResult) -> None:
    y, oof = trained.target, trained.cv.oof
    choice = best_threshold(y, oof, FAST.weights)
    assert trained.threshold == choice.threshold
    metrics = trained.metrics
    assert metrics["business_cost"] == pytest.approx(business_cost(y, oof, trained.threshold))
    assert metrics["business_cost_accept_all"] == pytest.approx(10 * y.sum() / len(y))
    refused = oof >= trained.threshold
    assert metrics["refusal_rate"] == pytest.approx(refused.mean())
    assert metrics["recall"] == pytest.approx((refused & (y == 1)).sum() / y.sum())
    assert metrics["precision"] == pytest.approx((refused & (y == 1)).sum() / max(refused.sum(), 1))
    assert metrics["brier"] == pytest.approx(np.mean((oof - y) ** 2))


def test_final_model_is_fit_on_every_row(trained: TrainResult) -> None:
    assert trained.booster.num_trees() == trained.params["n_estimators"]
    assert trained.booster.feature_name() == trained.builder.feature_names
    assert list(trained.features.columns) == trained.builder.feature_names
    assert len(trained.features) == len(trained.target)
    proba = trained.booster.predict(trained.features.to_numpy())
    assert proba.shape == trained.target.shape


def test_same_seed_same_model(
    trained: TrainResult, small_tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    train = validate_application(small_tables[0], "application_train", with_target=True)
    again = train_model(train, None, FAST)
    np.testing.assert_array_equal(again.cv.oof, trained.cv.oof)
    assert again.threshold == trained.threshold
    assert again.booster.model_to_string() == trained.booster.model_to_string()


def test_progress_is_reported_per_fold_and_final(
    small_tables: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train = validate_application(small_tables[0], "application_train", with_target=True)
    steps: list[int] = []
    train_model(train, None, replace(FAST, n_estimators=5), progress=steps.append)
    assert steps == [1, 1, 1, 1]  # 3 folds + the final model


def test_evaluate_on_a_known_case() -> None:
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    threshold, metrics = evaluate(y, p, CostWeights())
    assert threshold == pytest.approx(0.25)  # worked out in test_cost.py
    assert metrics["business_cost"] == pytest.approx(3 / 8)
    assert metrics["recall"] == 1.0
    assert metrics["precision"] == pytest.approx(3 / 6)
    assert metrics["refusal_rate"] == pytest.approx(6 / 8)
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, p))


def test_cross_validate_takes_categorical_features(trained: TrainResult) -> None:
    X, y = trained.features, trained.target
    categorical = trained.builder.categorical_features
    assert categorical
    assert set(categorical) <= set(X.columns)
    cv = cross_validate(X, y, categorical, replace(FAST, folds=2, n_estimators=5))
    assert len(cv.fold_auc) == 2


def test_bundle_contents_from_a_run(trained: TrainResult) -> None:
    bundle = assemble_bundle(trained, FAST, "f" * 64, reference_rows=100)
    assert bundle.metadata.data.reference_rows == len(bundle.reference) == 100
    assert bundle.reference[TARGET].sum() == pytest.approx(trained.target.mean() * 100, abs=1)
    assert bundle.metadata.threshold == trained.threshold
    importance = global_importance(trained, seed=0)
    assert list(importance) == list(bundle.importance)
    assert list(importance.values()) == sorted(importance.values(), reverse=True)
    names = [f.name for f in feature_catalogue(trained.builder)]
    assert names == trained.builder.feature_names


def test_tune_returns_bounded_parameters(trained: TrainResult) -> None:
    pytest.importorskip("optuna")
    from scoring.tune import tune

    calls: list[int] = []
    config = replace(FAST, folds=2, n_estimators=10)
    params = tune(
        trained.features, trained.target, trained.builder.categorical_features, config, 2,
        on_trial=calls.append,
    )  # fmt: skip
    assert calls == [1, 1]
    assert 0.01 <= params["learning_rate"] <= 0.1
    assert 4 <= params["num_leaves"] <= 64
    assert params == tune(
        trained.features, trained.target, trained.builder.categorical_features, config, 2
    )  # seeded: same search, same result


def test_builder_is_fit_on_training_rows(trained: TrainResult) -> None:
    assert isinstance(trained.builder, FeatureBuilder)
    assert trained.builder.aux_tables == []
