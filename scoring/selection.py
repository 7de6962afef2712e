"""Training the default model: the comparison's choice, fit on all rows, with its model card.

`python -m scoring train` runs the servable candidates on the training folds (`compare`, same
split as the CV), applies the winner rule (scoring/compare.py), then fits the chosen recipe on
every row. Today's LightGBM keeps its own training path (`train_model`'s CV, then the median
optimum rounds on all rows) so a LightGBM default is exactly what it was; its CV folds are the
comparison's own fold fits, reused from the run's fit cache (scoring/fitcache.py), not refit.
Any other default serves the candidate's `Ensemble`, whose out-of-fold probabilities (from the
comparison) give the threshold and metrics. The card records the comparison, the choice and
the fairness of the served model at the bundle's threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from scoring.candidates import CANDIDATES, FitContext
from scoring.compare import INCUMBENT, CompareOptions, Comparison, compare, selected
from scoring.ensemble import Ensemble
from scoring.errors import NotServableError
from scoring.fairness import fairness_report, sensitive_groups
from scoring.features import FeatureBuilder
from scoring.schema import TARGET
from scoring.train import CVResult, TrainConfig, TrainResult, evaluate, fit_final, fold_indices

DEFAULT_CANDIDATES = ("lightgbm", "scorecard", "blend")
BASELINE = "scorecard"  # the classic credit model the default is measured against

Progress = Callable[[int], None]


def servable(names: Sequence[str]) -> list[str]:
    """The candidate names, checked: known and servable (a default must be exactly explainable)."""
    selected(names)  # unknown names fail here, listing the known ones
    refused = [n for n in names if not CANDIDATES[n].servable]
    if refused:
        choices = [n for n, c in CANDIDATES.items() if c.servable]
        raise NotServableError(refused, choices)
    return list(dict.fromkeys([INCUMBENT, *names]))


def model_card(
    comparison: Comparison, result: TrainResult, sensitive: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    """What the bundle says about its model: which, why, against what, and how fair."""
    default = comparison.choice.default
    chosen = comparison.result(default)
    names = {r.model for r in comparison.results}
    baseline = comparison.result(BASELINE) if BASELINE in names - {default} else None
    incumbent = comparison.result(INCUMBENT)
    ablation = comparison.fairness["without_gender_and_age"].get(default)
    return {
        "model": default,
        "description": chosen.description,
        "members": result.served.describe(),
        "choice": comparison.choice.to_dict(),
        "comparison": [r.to_dict() for r in comparison.results],
        "beats": {
            "incumbent": INCUMBENT,
            "auc_gain": chosen.auc_mean - incumbent.auc_mean,
            "cost_saving": incumbent.business_cost - chosen.business_cost,
            "baseline": baseline.model if baseline else None,
            "baseline_auc_gain": chosen.auc_mean - baseline.auc_mean if baseline else None,
            "baseline_cost_saving": (
                baseline.business_cost - chosen.business_cost if baseline else None
            ),
        },
        "fairness": fairness_report(result.target, result.cv.oof, result.threshold, sensitive),
        "protected_inputs": comparison.fairness["protected_inputs"],
        "are_model_inputs": comparison.fairness["are_model_inputs"],
        "without_gender_and_age": ablation,
    }


def train_default(
    train: pd.DataFrame,
    aux: Mapping[str, pd.DataFrame] | None,
    config: TrainConfig,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> tuple[TrainResult, Comparison]:
    """Compare the candidates on the CV folds, then train the one the winner rule picks."""
    names = servable(candidates)
    builder = FeatureBuilder().fit(train, aux)
    X = builder.transform(train, aux)
    y = train[TARGET].to_numpy(dtype="int64")
    sensitive = sensitive_groups(train)
    context = FitContext(config)  # its cache is shared by the comparison and the final fit
    options = CompareOptions(
        folds=config.folds,
        seed=config.seed,
        models=tuple(names),
        weights=config.weights,
        context=context,
    )
    comparison = compare(
        X, y, builder.categorical_features, builder.sources(), sensitive, options,
        progress, on_total,
    )  # fmt: skip
    default = comparison.choice.default
    if default == INCUMBENT:
        cv = incumbent_cv(X, y, builder.categorical_features, context)
        result = fit_final(builder, X, y, cv, config, progress)
    else:
        result = _fit_candidate(default, comparison, builder, X, y, context)
        if progress:
            progress(1)
    result.card = model_card(comparison, result, sensitive)
    return result, comparison


def incumbent_cv(
    X: pd.DataFrame, y: np.ndarray, categorical: list[str], context: FitContext
) -> CVResult:
    """`train_model`'s cross-validation of LightGBM, from the comparison's fold fits.

    The incumbent candidate is `train`'s per-fold model (the same early-stopped fit on the same
    folds), trimmed at its best iteration, so the comparison already fitted every fold: they
    come from the context's cache and only the predictions are made here.
    """
    config = context.config
    oof = np.zeros(len(y), dtype="float64")
    aucs: list[float] = []
    iterations: list[int] = []
    for train_idx, valid_idx in fold_indices(y, config.folds, config.seed):
        fitted = CANDIDATES[INCUMBENT].fit(X.iloc[train_idx], y[train_idx], categorical, context)
        if not isinstance(fitted, Ensemble) or len(fitted.boosters) != 1:
            raise TypeError(f"{INCUMBENT} did not return one booster")
        booster = fitted.boosters[0]
        oof[valid_idx] = booster.predict(X.iloc[valid_idx])
        aucs.append(float(roc_auc_score(y[valid_idx], oof[valid_idx])))
        iterations.append(booster.num_trees())
    return CVResult(oof=oof, fold_auc=aucs, best_iterations=iterations)


def _fit_candidate(
    name: str,
    comparison: Comparison,
    builder: FeatureBuilder,
    X: pd.DataFrame,
    y: np.ndarray,
    context: FitContext,
) -> TrainResult:
    """The candidate's recipe on every row; its comparison out-of-fold figures as the CV."""
    config = context.config
    chosen = comparison.result(name)
    fitted = CANDIDATES[name].fit(X, y, builder.categorical_features, context)
    if not isinstance(fitted, Ensemble):  # servable recipes return one
        raise TypeError(f"{name} did not return a servable Ensemble")
    threshold, metrics = evaluate(y, chosen.oof, config.weights)
    metrics["auc_std"] = chosen.auc_std
    cv = CVResult(oof=chosen.oof, fold_auc=chosen.fold_auc, best_iterations=[])
    params = {"model": name, **{k: v for k, v in fitted.describe().items() if k != "trees"}}
    params["trees"] = sum(b.num_trees() for b in fitted.boosters)
    return TrainResult(None, builder, X, y, cv, threshold, metrics, params, ensemble=fitted)
