"""Model comparison on one shared set of stratified folds, and the rule that picks the default.

Every candidate is fit on the same training folds and judged on the same held-out folds (one
split object, made once; each result records a digest of the folds it saw). Metrics come from
the pooled out-of-fold probabilities, as in `train`: AUC, business cost at the candidate's own
cost-optimal threshold, recall, precision, Brier; plus the spread over folds.

WINNER RULE (`choose`):
1. Only servable candidates may be chosen: exactly explainable in the served form, and whose
   one-row explanation costs at most `max_serving_ratio` times the incumbent's (same run).
2. The winner has the lowest business cost; a tie (within 1e-9) goes to the higher mean AUC.
3. The winner becomes the default only if it also wins on the folds: a lower cost than the
   incumbent (today's LightGBM) on a strict majority of the folds. Otherwise the incumbent
   stays the default: a gain that the folds do not confirm is noise.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from scoring.candidates import Candidate, FitContext, Predictor
from scoring.cost import CostWeights, best_threshold, business_cost
from scoring.decision import refused as refused_by
from scoring.ensemble import Ensemble
from scoring.errors import UnknownCandidateError
from scoring.train import Split

INCUMBENT = "lightgbm"
MAX_SERVING_RATIO = 2.0
TIE = 1e-9
TIMING_ROWS = 20
TIMING_ROUNDS = 2

Progress = Callable[[int], None]


@dataclass
class CandidateResult:
    model: str
    description: str
    servable: bool
    fold_auc: list[float]
    fold_cost: list[float]  # each fold's cost at the pooled threshold
    auc: float  # of the pooled out-of-fold probabilities
    business_cost: float
    threshold: float
    recall: float
    precision: float
    refusal_rate: float
    brier: float
    fit_seconds: float  # mean per fold; a fit shared with an earlier candidate costs it ~0 here
    predict_ms: float  # one row, median
    explain_ms: float | None  # one row's exact SHAP, median; None when not servable
    folds_sha256: str
    oof: np.ndarray = field(repr=False)

    @property
    def auc_mean(self) -> float:
        return float(np.mean(self.fold_auc))

    @property
    def auc_std(self) -> float:
        return float(np.std(self.fold_auc))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "description": self.description,
            "servable": self.servable,
            "auc_mean": self.auc_mean,
            "auc_std": self.auc_std,
            "auc_oof": self.auc,
            "fold_auc": self.fold_auc,
            "business_cost": self.business_cost,
            "cost_std": float(np.std(self.fold_cost)),
            "fold_cost": self.fold_cost,
            "threshold": self.threshold,
            "recall": self.recall,
            "precision": self.precision,
            "refusal_rate": self.refusal_rate,
            "brier": self.brier,
            "fit_seconds": self.fit_seconds,
            "predict_ms": self.predict_ms,
            "explain_ms": self.explain_ms,
            "folds_sha256": self.folds_sha256,
        }


def folds_digest(splits: Sequence[Split]) -> str:
    digest = hashlib.sha256()
    for train_idx, valid_idx in splits:
        digest.update(np.asarray(train_idx, dtype="int64").tobytes() + b"|")
        digest.update(np.asarray(valid_idx, dtype="int64").tobytes() + b";")
    return digest.hexdigest()


def serving_times(
    models: Mapping[str, Predictor], rows: np.ndarray, rounds: int = TIMING_ROUNDS
) -> dict[str, tuple[float, float | None]]:
    """Median one-row predict and explain (exact SHAP) times in ms of each model.

    Calls are interleaved, model after model on the same row, so that a busy machine slows
    every model alike and the ratios between them hold; explain is None for a model that has no
    exact explanation (not an Ensemble).
    """
    predict: dict[str, list[float]] = {name: [] for name in models}
    explain: dict[str, list[float]] = {n: [] for n, m in models.items() if isinstance(m, Ensemble)}

    def timed(call: Callable[[np.ndarray], object], row: np.ndarray) -> float:
        start = time.perf_counter()
        call(row)
        return (time.perf_counter() - start) * 1000

    for round_ in range(rounds + 1):  # round 0 warms up and is not counted
        for i in range(len(rows)):
            row = rows[i : i + 1]
            for name, model in models.items():
                took = timed(model.predict_proba, row)
                if isinstance(model, Ensemble):
                    took_explain = timed(model.contributions, row)
                    if round_:
                        explain[name].append(took_explain)
                if round_:
                    predict[name].append(took)
    return {
        name: (
            float(np.median(predict[name])),
            float(np.median(explain[name])) if name in explain else None,
        )
        for name in models
    }


def evaluate_candidate(
    candidate: Candidate,
    X: pd.DataFrame,
    y: np.ndarray,
    categorical: Sequence[str],
    splits: Sequence[Split],
    context: FitContext,
    weights: CostWeights,
    progress: Progress | None = None,
) -> tuple[CandidateResult, Predictor]:
    """Fit on each training fold, predict its held-out fold, and score the pooled predictions.

    Returns the result (serving times not yet measured: see `run_comparison`) and the model of
    the last fold."""
    oof = np.zeros(len(y))
    seen: list[Split] = []
    fit_times: list[float] = []
    fitted: Predictor | None = None
    categories = [c for c in categorical if c in X.columns]
    for train_idx, valid_idx in splits:
        seen.append((train_idx, valid_idx))
        start = time.perf_counter()
        fitted = candidate.fit(X.iloc[train_idx], y[train_idx], categories, context)
        fit_times.append(time.perf_counter() - start)
        oof[valid_idx] = fitted.predict_proba(
            X.iloc[valid_idx].to_numpy(dtype="float64"), context.config.threads
        )
        if progress:
            progress(1)
    assert fitted is not None  # every fold fits one; narrows the type  # nosec B101
    choice = best_threshold(y, oof, weights)
    refused = refused_by(oof, choice.threshold)
    hits = int(np.sum(refused & (y == 1)))
    result = CandidateResult(
        model=candidate.name,
        description=candidate.description,
        servable=candidate.servable,
        fold_auc=[float(roc_auc_score(y[v], oof[v])) for _, v in splits],
        fold_cost=[business_cost(y[v], oof[v], choice.threshold, weights) for _, v in splits],
        auc=float(roc_auc_score(y, oof)),
        business_cost=choice.cost,
        threshold=choice.threshold,
        recall=hits / max(int(y.sum()), 1),
        precision=hits / max(int(refused.sum()), 1),
        refusal_rate=float(refused.mean()),
        brier=float(brier_score_loss(y, oof)),
        fit_seconds=float(np.mean(fit_times)),
        predict_ms=float("nan"),
        explain_ms=None,
        folds_sha256=folds_digest(seen),
        oof=oof,
    )
    return result, fitted


@dataclass(frozen=True)
class Choice:
    winner: str
    default: str
    incumbent: str
    folds_won: int  # folds where the winner's cost is below the incumbent's
    folds: int
    reason: str
    eligible: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "rule": RULE}


RULE = (
    "Among servable candidates whose one-row explanation costs at most "
    f"{MAX_SERVING_RATIO:g}x the incumbent's: lowest out-of-fold business cost, ties by mean "
    "AUC. It replaces the incumbent as the default only if its cost is also lower on a strict "
    "majority of the folds."
)


def choose(
    results: Sequence[CandidateResult],
    incumbent: str = INCUMBENT,
    max_serving_ratio: float = MAX_SERVING_RATIO,
) -> Choice:
    """Apply the winner rule (module docstring) to a comparison's results."""
    by_name = {r.model: r for r in results}
    if incumbent not in by_name:
        raise ValueError(f"the comparison must include the incumbent {incumbent!r}")
    base = by_name[incumbent]
    budget = (base.explain_ms or 0.0) * max_serving_ratio
    eligible = [
        r for r in results if r.servable and r.explain_ms is not None and r.explain_ms <= budget
    ]
    if base not in eligible:
        eligible.append(base)  # today's model is served today, whatever this run measured
    winner = min(eligible, key=lambda r: (round(r.business_cost / TIE), -r.auc_mean, r.model))
    won = sum(w < b for w, b in zip(winner.fold_cost, base.fold_cost, strict=True))
    folds = len(base.fold_cost)
    if winner is base:
        default, reason = incumbent, f"{incumbent} has the lowest cost: it stays the default"
    elif won * 2 > folds:
        default = winner.model
        reason = f"{winner.model} costs less on {won} of {folds} folds: it becomes the default"
    else:
        default = incumbent
        reason = (
            f"{winner.model} costs less overall but only on {won} of {folds} folds: "
            f"{incumbent} stays the default"
        )
    return Choice(winner.model, default, incumbent, won, folds, reason, [r.model for r in eligible])


def run_comparison(
    X: pd.DataFrame,
    y: np.ndarray,
    categorical: Sequence[str],
    candidates: Sequence[Candidate],
    splits: Sequence[Split],
    context: FitContext,
    weights: CostWeights,
    progress: Progress | None = None,
) -> list[CandidateResult]:
    """Every candidate on the same splits, then their serving times, measured side by side."""
    runs = [
        evaluate_candidate(c, X, y, categorical, splits, context, weights, progress)
        for c in candidates
    ]
    models = {result.model: model for result, model in runs}
    times = serving_times(models, X.iloc[:TIMING_ROWS].to_numpy(dtype="float64"))
    for result, _ in runs:
        result.predict_ms, result.explain_ms = times[result.model]
    return [result for result, _ in runs]


# --- the whole comparison of one data set: candidates, choice, fairness, gender and age ------

PROTECTED_COLUMNS = ("CODE_GENDER", "DAYS_BIRTH")


@dataclass(frozen=True)
class CompareOptions:
    folds: int = 5
    seed: int = 0
    models: tuple[str, ...] = ()  # empty: every candidate; the incumbent is always included
    weights: CostWeights = field(default_factory=CostWeights)
    context: FitContext | None = None  # None: TrainConfig(folds, seed) defaults


@dataclass
class Comparison:
    results: list[CandidateResult]
    choice: Choice
    fairness: dict[str, Any]
    y: np.ndarray = field(repr=False)
    meta: dict[str, Any] = field(default_factory=dict)

    def result(self, model: str) -> CandidateResult:
        return next(r for r in self.results if r.model == model)


def selected(models: Sequence[str]) -> list[Candidate]:
    """The candidates named (all when none), in the registry's order, the incumbent included."""
    from scoring.candidates import CANDIDATES

    unknown = sorted(set(models) - set(CANDIDATES))
    if unknown:
        raise UnknownCandidateError(unknown, list(CANDIDATES))
    wanted = set(models) | {INCUMBENT} if models else set(CANDIDATES)
    return [c for name, c in CANDIDATES.items() if name in wanted]


def protected_features(sources: dict[str, list[str]]) -> dict[str, list[str]]:
    """For gender and birth date: the model features computed from them."""
    return {
        column: [feature for feature, used in sources.items() if column in used]
        for column in PROTECTED_COLUMNS
    }


def compare(
    X: pd.DataFrame,
    y: np.ndarray,
    categorical: Sequence[str],
    sources: dict[str, list[str]],
    sensitive: dict[str, np.ndarray],
    options: CompareOptions,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Comparison:
    """Every candidate on one split; the rule's choice; fairness and the cost of gender and age.

    `on_total` is told the number of fold fits to come once it is known (for a progress bar).
    """
    from scoring.candidates import CANDIDATES
    from scoring.fairness import fairness_report
    from scoring.train import TrainConfig, fold_indices

    candidates = selected(options.models)
    context = options.context or FitContext(TrainConfig(folds=options.folds, seed=options.seed))
    splits = fold_indices(y, options.folds, options.seed)
    if on_total:
        on_total(len(candidates) * options.folds)
    results = run_comparison(
        X, y, categorical, candidates, splits, context, options.weights, progress
    )
    choice = choose(results)
    audited = list(dict.fromkeys([choice.default, INCUMBENT]))
    protected = protected_features(sources)
    dropped = sorted({f for names in protected.values() for f in names})
    if on_total:
        on_total((len(candidates) + len(audited)) * options.folds)
    without = run_comparison(
        X.drop(columns=dropped),
        y,
        categorical,
        [CANDIDATES[name] for name in audited],
        splits,
        context,
        options.weights,
        progress,
    )
    by_name = {r.model: r for r in results}
    ablation = {
        r.model: {
            "auc_mean_with": by_name[r.model].auc_mean,
            "auc_mean_without": r.auc_mean,
            "auc_std_without": r.auc_std,
            "auc_change": r.auc_mean - by_name[r.model].auc_mean,
            "fold_auc_change": [
                a - b for a, b in zip(r.fold_auc, by_name[r.model].fold_auc, strict=True)
            ],
            "business_cost_with": by_name[r.model].business_cost,
            "business_cost_without": r.business_cost,
        }
        for r in without
    }
    fairness = {
        "models": {
            name: fairness_report(y, by_name[name].oof, by_name[name].threshold, sensitive)
            for name in audited
        },
        "protected_inputs": protected,
        "are_model_inputs": {column: bool(names) for column, names in protected.items()},
        "removed_features": dropped,
        "without_gender_and_age": ablation,
    }
    return Comparison(results, choice, fairness, y)
