"""Business cost of decisions and the threshold that minimises it.

A missed default (false negative: granted, then defaulted) costs `fn` and a refused good client
(false positive) costs `fp`; the default 10:1 ratio is the business's own estimate. Costs are
reported per client so that figures from data sets of different sizes compare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.decision import refused as refused_by


@dataclass(frozen=True)
class CostWeights:
    fn: float = 10.0
    fp: float = 1.0

    def __post_init__(self) -> None:
        if not (self.fn > 0 and self.fp > 0 and np.isfinite(self.fn) and np.isfinite(self.fp)):
            raise ValueError("cost weights must be positive finite numbers")


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    cost: float  # per client, at the threshold
    false_negatives: int
    false_positives: int


def business_cost(
    y_true: np.ndarray, proba: np.ndarray, threshold: float, weights: CostWeights = CostWeights()
) -> float:
    """Mean cost per client when refusing every client with proba >= threshold."""
    y = np.asarray(y_true).astype(bool)
    refused = refused_by(proba, threshold)
    fn = int(np.sum(y & ~refused))
    fp = int(np.sum(~y & refused))
    return (weights.fn * fn + weights.fp * fp) / len(y)


def best_threshold(
    y_true: np.ndarray, proba: np.ndarray, weights: CostWeights = CostWeights()
) -> ThresholdChoice:
    """The threshold with the lowest business cost, searched exactly over every distinct score.

    Sorting once gives the cost of every candidate cut in O(n log n): refusing the clients whose
    probability is >= a candidate turns the defaults above it into true positives and the good
    clients above it into false positives. Ties in cost go to the highest threshold (refuse as
    few clients as possible for the same cost). The returned threshold sits halfway between two
    distinct scores, so a tiny numeric change of a score does not flip its decision.
    """
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(proba, dtype="float64")
    if y.size == 0 or y.size != p.size:
        raise ValueError("y_true and proba must be non-empty and of equal length")
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    # Cut k refuses the k highest scores; only cuts between distinct scores are valid.
    positives_refused = np.concatenate([[0], np.cumsum(y_sorted)])
    negatives_refused = np.concatenate([[0], np.cumsum(~y_sorted)])
    valid = np.ones(len(p) + 1, dtype=bool)
    valid[1:-1] = p_sorted[:-1] != p_sorted[1:]
    # Refusing no one needs a threshold above the top score; a score of 1.0 leaves none <= 1.
    valid[0] = p_sorted[0] < 1.0
    fn = y.sum() - positives_refused
    fp = negatives_refused
    cost = (weights.fn * fn + weights.fp * fp) / len(p)
    cost = np.where(valid, cost, np.inf)
    k = int(np.argmin(cost))  # first minimum = fewest refusals
    if k == 0:
        threshold = float(np.nextafter(p_sorted[0], np.inf))
    elif k == len(p):
        threshold = float(p_sorted[-1])
    else:
        threshold = float((p_sorted[k - 1] + p_sorted[k]) / 2)
    return ThresholdChoice(threshold, float(cost[k]), int(fn[k]), int(fp[k]))
