"""The models the comparison puts side by side, each a recipe: training rows in, a predictor out.

Every recipe sees only the rows it is given (one training fold in the comparison, all rows for
a final model) and does its own early stopping, tuning or stacking inside them, so nothing of
the rows it will be judged on leaks in. The recipes marked `servable` return an `Ensemble`:
the exactly explainable form the API can serve. The others (the prior, the random forest) are
baselines only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from scoring.ensemble import Ensemble, single, trimmed
from scoring.fitcache import FitCache, rows_digest
from scoring.scorecard import Scorecard
from scoring.train import TrainConfig, fit_early_stopped, fold_indices

# Domain knowledge, not data: a better external credit score never raises the risk, and a
# heavier repayment burden never lowers it. Only these directions are imposed.
EXTERNAL_SCORES = [
    *(f"EXT_SOURCE_{k}" for k in (1, 2, 3)),
    *(f"EXT_SOURCE_{k}" for k in ("MEAN", "MIN", "MAX", "WEIGHTED", "PROD")),
]
MONOTONE: dict[str, int] = {
    **dict.fromkeys(EXTERNAL_SCORES, -1),
    "CREDIT_INCOME_RATIO": 1,
    "ANNUITY_INCOME_RATIO": 1,
}
SCORECARD_C_GRID = (0.003, 0.01, 0.03, 0.1)
BAG_SEEDS = 3


class Predictor(Protocol):
    def predict_proba(self, X: np.ndarray, threads: int = 1) -> np.ndarray: ...


@dataclass(frozen=True)
class FitContext:
    config: TrainConfig  # LightGBM settings, seed, early stopping, threads
    trials: int = 10  # Optuna trials of the tuned LightGBM
    inner_folds: int = 3  # folds inside the training rows, for tuning, stacking and C
    # Fits shared by the recipes of one run (scoring/fitcache.py): one per context.
    cache: FitCache = field(default_factory=FitCache, compare=False, repr=False)


Recipe = Callable[[pd.DataFrame, np.ndarray, list[str], FitContext], Predictor]


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    servable: bool  # fit returns an Ensemble: exact SHAP in log-odds, servable by the API
    fit: Recipe


@dataclass
class Prior:
    """Every client gets the training default rate: the floor any model must clear."""

    rate: float

    def predict_proba(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        return np.full(len(np.atleast_2d(X)), self.rate)


@dataclass
class SklearnPredictor:
    model: Any

    def predict_proba(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        return np.asarray(self.model.predict_proba(np.atleast_2d(X))[:, 1], dtype="float64")


def monotone_constraints(feature_names: Sequence[str]) -> list[int]:
    return [MONOTONE.get(name, 0) for name in feature_names]


def fit_lightgbm(
    X: pd.DataFrame,
    y: np.ndarray,
    categorical: list[str],
    config: TrainConfig,
    extra: Mapping[str, Any] | None = None,
) -> Ensemble:
    """Exactly `train`'s per-fold model (early stopping on a slice of these rows), trimmed."""
    params = {**config.lgb_params(y), **(extra or {})}
    booster, best = fit_early_stopped(X, y, categorical, params, config)
    return single(trimmed(booster, best))


def fit_scorecard(
    X: pd.DataFrame, y: np.ndarray, categorical: list[str], context: FitContext
) -> Ensemble:
    """The WoE scorecard, its L2 strength chosen by inner CV on these rows only."""
    c = choose_scorecard_c(X, y, categorical, context)
    card = scorecard_with(X, y, categorical, c, context)
    return Ensemble(list(X.columns), scorecard=card, scorecard_weight=1.0)


def scorecard_with(
    X: pd.DataFrame, y: np.ndarray, categorical: list[str], c: float, context: FitContext
) -> Scorecard:
    """`Scorecard.fit` at strength `c`, computed once per run for the same rows."""
    key = ("scorecard", c, context.config.seed, rows_digest(X, y, categorical))
    return context.cache.get(
        key, lambda: Scorecard.fit(X, y, categorical, c=c, seed=context.config.seed)
    )


def choose_scorecard_c(
    X: pd.DataFrame, y: np.ndarray, categorical: list[str], context: FitContext
) -> float:
    """The strength of SCORECARD_C_GRID with the best inner out-of-fold AUC on these rows."""
    key = ("scorecard_c", context.inner_folds, context.config.seed, rows_digest(X, y, categorical))
    return context.cache.get(key, lambda: _scorecard_c(X, y, categorical, context))


def _scorecard_c(
    X: pd.DataFrame, y: np.ndarray, categorical: list[str], context: FitContext
) -> float:
    oof = np.zeros((len(SCORECARD_C_GRID), len(y)))
    for train_idx, valid_idx in fold_indices(y, context.inner_folds, context.config.seed):
        valid = X.iloc[valid_idx].to_numpy(dtype="float64")
        cards = Scorecard.fit_grid(X.iloc[train_idx], y[train_idx], categorical, SCORECARD_C_GRID)
        for k, card in enumerate(cards):  # the bins of a fold are shared by every strength
            oof[k, valid_idx] = card.predict_raw(valid)
    scores = [float(roc_auc_score(y, row)) for row in oof]
    return SCORECARD_C_GRID[int(np.argmax(scores))]


def combine(parts: Sequence[tuple[Ensemble, float]], intercept: float = 0.0) -> Ensemble:
    """sum_k w_k * part_k + intercept, flattened into one Ensemble (one scorecard at most)."""
    boosters, weights = [], []
    scorecard, scorecard_weight = None, 0.0
    for part, weight in parts:
        boosters += part.boosters
        weights += [weight * w for w in part.booster_weights]
        intercept += weight * part.intercept
        if part.scorecard is not None:
            if scorecard is not None:
                raise ValueError("an ensemble holds one scorecard at most")
            scorecard, scorecard_weight = part.scorecard, weight * part.scorecard_weight
    return Ensemble(
        parts[0][0].feature_names, boosters, weights, scorecard, scorecard_weight, intercept
    )


MemberFit = Callable[[pd.DataFrame, np.ndarray], Ensemble]


def stack(
    members: Sequence[MemberFit], X: pd.DataFrame, y: np.ndarray, context: FitContext
) -> Ensemble:
    """Members weighted by a logistic regression on their inner out-of-fold log-odds.

    The regression's intercept and weights are an affine map of log-odds, so the blend is also
    calibrated (Platt) and stays exactly explainable. Members are then refit on all these rows.
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    raw = np.zeros((len(y), len(members)))
    for train_idx, valid_idx in fold_indices(y, context.inner_folds, context.config.seed):
        inner_X, inner_y = X.iloc[train_idx], y[train_idx]
        valid = X.iloc[valid_idx].to_numpy(dtype="float64")
        for k, member in enumerate(members):
            raw[valid_idx, k] = member(inner_X, inner_y).predict_raw(valid, context.config.threads)
    with threadpool_limits(limits=1, user_api="blas"):
        weigher = LogisticRegression(C=1e6, max_iter=1000).fit(raw, y)
    fitted = [member(X, y) for member in members]
    return combine(
        list(zip(fitted, weigher.coef_[0].tolist(), strict=True)), float(weigher.intercept_[0])
    )


def _dummy(X: pd.DataFrame, y: np.ndarray, categorical: list[str], ctx: FitContext) -> Predictor:
    return Prior(float(np.mean(y)))


def _forest(X: pd.DataFrame, y: np.ndarray, categorical: list[str], ctx: FitContext) -> Predictor:
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(
        n_estimators=300,
        min_samples_leaf=20,
        max_features="sqrt",
        n_jobs=ctx.config.threads or -1,
        random_state=ctx.config.seed,
    )
    return SklearnPredictor(forest.fit(X.to_numpy(dtype="float64"), y))


def _lightgbm(X: pd.DataFrame, y: np.ndarray, categorical: list[str], ctx: FitContext) -> Ensemble:
    key = ("lightgbm", repr(ctx.config), rows_digest(X, y, categorical))
    return ctx.cache.get(key, lambda: fit_lightgbm(X, y, categorical, ctx.config))


def _tuned(X: pd.DataFrame, y: np.ndarray, categorical: list[str], ctx: FitContext) -> Ensemble:
    from scoring.tune import tune

    inner = replace(ctx.config, folds=ctx.inner_folds)
    params = tune(X, y, categorical, inner, ctx.trials)
    return fit_lightgbm(X, y, categorical, replace(ctx.config, params=params))


def _monotone(X: pd.DataFrame, y: np.ndarray, categorical: list[str], ctx: FitContext) -> Ensemble:
    extra = {"monotone_constraints": monotone_constraints(list(X.columns))}
    key = ("lightgbm_monotone", repr(ctx.config), rows_digest(X, y, categorical))
    return ctx.cache.get(key, lambda: fit_lightgbm(X, y, categorical, ctx.config, extra))


def _bagged(X: pd.DataFrame, y: np.ndarray, categorical: list[str], ctx: FitContext) -> Ensemble:
    seeds = [ctx.config.seed + k for k in range(BAG_SEEDS)]
    members = [fit_lightgbm(X, y, categorical, replace(ctx.config, seed=s)) for s in seeds]
    return combine([(m, 1.0 / len(members)) for m in members])


def _blend_with(gbm: Recipe) -> Recipe:
    def fit(X: pd.DataFrame, y: np.ndarray, categorical: list[str], ctx: FitContext) -> Ensemble:
        c = choose_scorecard_c(X, y, categorical, ctx)  # once, on these rows

        def boosted(rows: pd.DataFrame, target: np.ndarray) -> Ensemble:
            fitted = gbm(rows, target, categorical, ctx)
            assert isinstance(fitted, Ensemble)  # gbm always returns one; narrows  # nosec B101
            return fitted

        def card(rows: pd.DataFrame, target: np.ndarray) -> Ensemble:
            scorecard = scorecard_with(rows, target, categorical, c, ctx)
            return Ensemble(list(rows.columns), scorecard=scorecard, scorecard_weight=1.0)

        return stack([boosted, card], X, y, ctx)

    return fit


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in [
        Candidate("dummy", "the training default rate for everyone", False, _dummy),
        Candidate("scorecard", "weight-of-evidence logistic regression", True, fit_scorecard),
        Candidate("random_forest", "300 trees, leaves of 20 or more", False, _forest),
        Candidate("lightgbm", "today's model: LightGBM, default parameters", True, _lightgbm),
        Candidate("lightgbm_tuned", "LightGBM tuned by Optuna on the training rows", True, _tuned),
        Candidate(
            "lightgbm_monotone", "LightGBM, monotone in external scores and burden", True, _monotone
        ),
        Candidate(
            "lightgbm_bagged", f"mean log-odds of {BAG_SEEDS} seeded LightGBM", True, _bagged
        ),
        Candidate(
            "blend", "LightGBM + scorecard, stacked and calibrated", True, _blend_with(_lightgbm)
        ),
        Candidate(
            "blend_monotone",
            "monotone LightGBM + scorecard, stacked and calibrated",
            True,
            _blend_with(_monotone),
        ),
    ]
}
