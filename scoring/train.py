"""Training: stratified K-fold CV, cost-minimising threshold, final model, bundle contents.

Out-of-fold predictions are honest: early stopping uses a slice carved from each training fold,
never the fold being predicted. The threshold is chosen on those out-of-fold probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from scoring.cost import CostWeights, best_threshold, business_cost
from scoring.decision import refused as refused_by
from scoring.ensemble import Ensemble, single
from scoring.features import FeatureBuilder
from scoring.schema import TARGET

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.02,
    "num_leaves": 8,
    "min_child_samples": 40,
    "feature_fraction": 0.3,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "cat_smooth": 50.0,
    "min_data_per_group": 50,
    "max_cat_threshold": 16,
    # Column-wise histograms, chosen once instead of LightGBM timing both layouts on every
    # Dataset (measured: a quarter of a demo fold fit's CPU; the same trees).
    "force_col_wise": True,
    "verbose": -1,
}


@dataclass(frozen=True)
class TrainConfig:
    folds: int = 5
    seed: int = 0
    n_estimators: int = 2000  # upper bound; early stopping picks the number per fold
    early_stopping_rounds: int = 100
    early_stopping_share: float = 0.15
    class_weight: str = "none"  # "balanced" reweights defaults by the class ratio
    weights: CostWeights = field(default_factory=CostWeights)
    params: Mapping[str, Any] = field(default_factory=dict)  # overrides of DEFAULT_PARAMS
    threads: int = 0  # 0 = all cores

    def lgb_params(self, y: np.ndarray) -> dict[str, Any]:
        params = {**DEFAULT_PARAMS, **self.params, "seed": self.seed}
        params["num_threads"] = self.threads
        if self.class_weight == "balanced":
            positives = max(int(y.sum()), 1)
            params["scale_pos_weight"] = (len(y) - positives) / positives
        return params


@dataclass
class CVResult:
    oof: np.ndarray
    fold_auc: list[float]
    best_iterations: list[int]


@dataclass
class TrainResult:
    booster: lgb.Booster | None  # None when the served model is an ensemble
    builder: FeatureBuilder
    features: pd.DataFrame
    target: np.ndarray
    cv: CVResult
    threshold: float
    metrics: dict[str, float]
    params: dict[str, Any]
    ensemble: Ensemble | None = None  # a served model other than one booster
    card: dict[str, Any] | None = None  # comparison, choice and fairness (scoring/selection.py)

    @property
    def served(self) -> Ensemble:
        if self.ensemble is not None:
            return self.ensemble
        if self.booster is None:
            raise ValueError("a training result needs a booster or an ensemble")
        return single(self.booster)


Progress = Callable[[int], None]


Split = tuple[np.ndarray, np.ndarray]


def fold_indices(y: np.ndarray, folds: int, seed: int) -> list[Split]:
    """The stratified (train, valid) row positions of each fold: one split shared by every user."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def fit_early_stopped(
    X: pd.DataFrame,
    y: np.ndarray,
    categorical: list[str],
    params: Mapping[str, Any],
    config: TrainConfig,
) -> tuple[lgb.Booster, int]:
    """One booster fit on `X`, stopped early on a stratified slice of `X` itself.

    Returns the booster and its best iteration; the rows it is evaluated on are never seen here.
    """
    fit_idx, stop_idx = train_test_split(
        np.arange(len(y)),
        test_size=config.early_stopping_share,
        stratify=y,
        random_state=config.seed,
    )
    fit_set = lgb.Dataset(X.iloc[fit_idx], y[fit_idx], categorical_feature=categorical)
    stop_set = lgb.Dataset(X.iloc[stop_idx], y[stop_idx], reference=fit_set)
    booster = lgb.train(
        dict(params),
        fit_set,
        num_boost_round=config.n_estimators,
        valid_sets=[stop_set],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    return booster, int(booster.best_iteration or config.n_estimators)


def cross_validate(
    X: pd.DataFrame,
    y: np.ndarray,
    categorical: list[str],
    config: TrainConfig,
    progress: Progress | None = None,
) -> CVResult:
    """Out-of-fold probabilities with early stopping on a slice of each training fold."""
    params = config.lgb_params(y)
    oof = np.zeros(len(y), dtype="float64")
    aucs: list[float] = []
    iterations: list[int] = []
    for train_idx, valid_idx in fold_indices(y, config.folds, config.seed):
        booster, best = fit_early_stopped(
            X.iloc[train_idx], y[train_idx], categorical, params, config
        )
        oof[valid_idx] = booster.predict(X.iloc[valid_idx], num_iteration=best)
        aucs.append(float(roc_auc_score(y[valid_idx], oof[valid_idx])))
        iterations.append(best)
        if progress:
            progress(1)
    return CVResult(oof=oof, fold_auc=aucs, best_iterations=iterations)


def evaluate(
    y: np.ndarray, proba: np.ndarray, weights: CostWeights
) -> tuple[float, dict[str, float]]:
    """Threshold and metrics of out-of-fold probabilities."""
    choice = best_threshold(y, proba, weights)
    refused = refused_by(proba, choice.threshold)
    defaults = max(int(y.sum()), 1)
    true_positives = int(np.sum(refused & (y == 1)))
    metrics = {
        "auc": float(roc_auc_score(y, proba)),
        "business_cost": choice.cost,
        "business_cost_accept_all": business_cost(y, proba, 1.0 + 1e-9, weights),
        "recall": true_positives / defaults,
        "precision": true_positives / max(int(refused.sum()), 1),
        "refusal_rate": float(refused.mean()),
        "brier": float(brier_score_loss(y, proba)),
    }
    return choice.threshold, metrics


def final_rounds(cv: CVResult, share: float) -> int:
    """Rounds for the model on all rows: the median CV optimum, scaled for the extra data."""
    return max(1, round(float(np.median(cv.best_iterations)) / (1 - share)))


def train_model(
    train: pd.DataFrame,
    aux: Mapping[str, pd.DataFrame] | None,
    config: TrainConfig,
    progress: Progress | None = None,
) -> TrainResult:
    """Fit the features, cross-validate, pick the threshold, then fit the final model."""
    builder = FeatureBuilder().fit(train, aux)
    X = builder.transform(train, aux)
    y = train[TARGET].to_numpy(dtype="int64")
    cv = cross_validate(X, y, builder.categorical_features, config, progress)
    return fit_final(builder, X, y, cv, config, progress)


def fit_final(
    builder: FeatureBuilder,
    X: pd.DataFrame,
    y: np.ndarray,
    cv: CVResult,
    config: TrainConfig,
    progress: Progress | None = None,
) -> TrainResult:
    """Threshold and metrics of the CV's out-of-fold probabilities, then the model on all rows."""
    threshold, metrics = evaluate(y, cv.oof, config.weights)
    metrics["auc_std"] = float(np.std(cv.fold_auc))
    params = config.lgb_params(y)
    rounds = final_rounds(cv, config.early_stopping_share)
    booster = lgb.train(
        params,
        lgb.Dataset(X, y, categorical_feature=builder.categorical_features),
        num_boost_round=rounds,
    )
    if progress:
        progress(1)
    params["n_estimators"] = rounds
    return TrainResult(booster, builder, X, y, cv, threshold, metrics, params)
