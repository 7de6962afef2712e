"""A weight-of-evidence logistic scorecard: the classic credit baseline, exactly explainable.

Each model feature is cut into bins (quantiles for numbers, one bin per level for category
codes, one bin for missing values), each bin is replaced by its weight of evidence (the bin's
log-odds of default, shrunk toward the population and centred on it), and a logistic regression
weighs the features. Missing and unseen values fall in the missing bin, so no imputation can go
wrong at serving time, and the WoE puts every feature on the same log-odds scale (no scaler).

Serving is pure numpy: bins are found by comparing the row with a padded table of cut points,
so one call costs a few vectorised operations whatever the number of features.

The score is linear in the WoE columns and each column depends on one feature, so the exact
(interventional) SHAP value of feature j is coef_j * (woe_j(x) - mean of woe_j over the training
rows): contributions + base value == the raw score (log-odds), exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MAX_BINS = 10
SMOOTHING = 20.0  # pseudo-rows of the population's default rate added to every bin
DEFAULT_C = 0.05  # inverse L2 strength of the logistic regression


def _cuts_of_sorted(ordered: np.ndarray, categorical: bool, max_bins: int) -> np.ndarray:
    """Interior cut points of sorted values (NaN last, as numpy sorts them); bin b holds the
    values in (cut[b-1], cut[b]]."""
    present = ordered[: len(ordered) - int(np.isnan(ordered).sum())]
    if present.size == 0:
        return np.empty(0)
    distinct = present[np.concatenate([[True], present[1:] != present[:-1]])]  # np.unique's way
    if categorical or distinct.size <= max_bins:
        return (distinct[:-1] + distinct[1:]) / 2  # one bin per distinct value
    quantiles = np.quantile(present, np.linspace(0, 1, max_bins + 1)[1:-1], method="lower")
    return np.unique(quantiles)


@dataclass
class Scorecard:
    """Fitted state: cut points, WoE tables and the logistic weights, all plain lists."""

    feature_names: list[str]
    cuts: np.ndarray  # (features, max cuts), padded with +inf
    woe: np.ndarray  # (features, max cuts + 2): one WoE per bin, the last column is "missing"
    coef: np.ndarray  # (features,)
    intercept: float
    woe_mean: np.ndarray  # (features,): mean WoE over the training rows (the SHAP background)

    @classmethod
    def fit(
        cls,
        X: pd.DataFrame,
        y: np.ndarray,
        categorical: Sequence[str] = (),
        c: float = DEFAULT_C,
        max_bins: int = MAX_BINS,
        seed: int = 0,
    ) -> Scorecard:
        return cls.fit_grid(X, y, categorical, [c], max_bins, seed)[0]

    @classmethod
    def fit_grid(
        cls,
        X: pd.DataFrame,
        y: np.ndarray,
        categorical: Sequence[str] = (),
        cs: Sequence[float] = (DEFAULT_C,),
        max_bins: int = MAX_BINS,
        seed: int = 0,
    ) -> list[Scorecard]:
        """One scorecard per L2 strength in `cs`; the bins and WoE (which do not depend on the
        strength) are computed once. Each equals `fit(X, y, categorical, c)`."""
        from sklearn.linear_model import LogisticRegression  # training-only dependency
        from threadpoolctl import threadpool_limits

        binned = _binned(X, y, categorical, max_bins)
        labels = np.asarray(y, dtype="float64").astype("int64")
        cards = []
        # A few dozen columns: BLAS threads only add contention (measured 2x slower on 2 cores).
        with threadpool_limits(limits=1, user_api="blas"):
            for c in cs:
                model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
                model.fit(binned.design, labels)
                cards.append(
                    cls(
                        feature_names=binned.names,
                        cuts=binned.cuts,
                        woe=binned.woe,
                        coef=model.coef_[0].astype("float64"),
                        intercept=float(model.intercept_[0]),
                        woe_mean=binned.design.mean(axis=0),
                    )
                )
        return cards

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The WoE matrix (rows, features) of model-ready rows."""
        matrix = np.asarray(X, dtype="float64").reshape(-1, len(self.feature_names))
        return self.woe[np.arange(len(self.feature_names)), _bin_index(matrix, self.cuts)]

    def predict_raw(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of default."""
        return self.transform(X) @ self.coef + self.intercept

    @property
    def base_value(self) -> float:
        """The log-odds of the average training row's WoE: what the contributions start from."""
        return float(self.intercept + self.woe_mean @ self.coef)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Exact SHAP (rows, features + 1) in log-odds; the last column is the base value."""
        shap_values = (self.transform(X) - self.woe_mean) * self.coef
        base = np.full((len(shap_values), 1), self.base_value)
        return np.hstack([shap_values, base])

    def to_dict(self) -> dict[str, Any]:
        # +inf padding is not JSON: each feature's cut list is stored at its own length.
        return {
            "feature_names": self.feature_names,
            "cuts": [row[np.isfinite(row)].tolist() for row in self.cuts],
            "woe": self.woe.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "woe_mean": self.woe_mean.tolist(),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Scorecard:
        names = list(state["feature_names"])
        woe = np.asarray(state["woe"], dtype="float64").reshape(len(names), -1)
        cuts = np.full((len(names), woe.shape[1] - 2), np.inf)
        for j, points in enumerate(state["cuts"]):
            cuts[j, : len(points)] = points
        return cls(
            feature_names=names,
            cuts=cuts,
            woe=woe,
            coef=np.asarray(state["coef"], dtype="float64"),
            intercept=float(state["intercept"]),
            woe_mean=np.asarray(state["woe_mean"], dtype="float64"),
        )


@dataclass
class _Binned:
    names: list[str]
    cuts: np.ndarray
    woe: np.ndarray
    design: np.ndarray  # (rows, features): each training row's WoE


def _binned(X: pd.DataFrame, y: np.ndarray, categorical: Sequence[str], max_bins: int) -> _Binned:
    """Cut points, WoE tables and the WoE design matrix of training rows."""
    values = X.to_numpy(dtype="float64")
    target = np.asarray(y, dtype="float64")
    names = list(X.columns)
    wanted = set(categorical)
    ordered = np.sort(values, axis=0)  # one sort of every column at once
    cut_lists = [
        _cuts_of_sorted(ordered[:, j], names[j] in wanted, max_bins) for j in range(len(names))
    ]
    width = max((len(c) for c in cut_lists), default=0)
    cuts = np.full((len(names), width), np.inf)
    for j, points in enumerate(cut_lists):
        cuts[j, : len(points)] = points
    bins = _bin_index(values, cuts)
    rate = float(target.mean())
    prior = np.log(rate / (1 - rate))
    woe = np.zeros((len(names), width + 2))
    for j in range(len(names)):
        counts = np.bincount(bins[:, j], minlength=width + 2).astype("float64")
        bads = np.bincount(bins[:, j], weights=target, minlength=width + 2)
        goods = counts - bads
        log_odds = np.log((bads + SMOOTHING * rate) / (goods + SMOOTHING * (1 - rate)))
        woe[j] = np.where(counts > 0, log_odds - prior, 0.0)
    design = woe[np.arange(len(names)), bins]
    return _Binned(names, cuts, woe, design)


BROADCAST_ROWS = 64  # up to this many rows (serving), one broadcast comparison is fastest


def _bin_index(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Bin of every value: the number of cut points below it; NaN goes to the last column."""
    if len(values) <= BROADCAST_ROWS:
        index = (values[:, :, None] > cuts[None, :, :]).sum(axis=2)
    else:  # cut points are sorted (+inf padding last): a binary search per feature, same count
        index = np.empty_like(values, dtype="int64")  # same memory order as the comparison
        for j in range(values.shape[1]):
            index[:, j] = np.searchsorted(cuts[j], values[:, j], side="left")
    return np.where(np.isnan(values), cuts.shape[1] + 1, index)
