"""Business cost and the threshold search, on cases small enough to work out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.cost import CostWeights, best_threshold, business_cost


def test_hand_computed_case() -> None:
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    # Refusing the k highest scores, FN = 10, FP = 1, n = 8:
    #   k=0  FN 3 FP 0 -> 30/8 = 3.75      k=5  FN 1 FP 3 -> 13/8 = 1.625
    #   k=1  FN 2 FP 0 -> 20/8 = 2.5       k=6  FN 0 FP 3 ->  3/8 = 0.375   <- best
    #   k=2  FN 2 FP 1 -> 21/8 = 2.625     k=7  FN 0 FP 4 ->  4/8 = 0.5
    #   k=3  FN 1 FP 1 -> 11/8 = 1.375     k=8  FN 0 FP 5 ->  5/8 = 0.625
    #   k=4  FN 1 FP 2 -> 12/8 = 1.5
    # k=6 cuts between 0.3 and 0.2: threshold halfway, 0.25.
    choice = best_threshold(y, p)
    assert choice.threshold == pytest.approx(0.25)
    assert choice.cost == pytest.approx(0.375)
    assert (choice.false_negatives, choice.false_positives) == (0, 3)
    assert business_cost(y, p, choice.threshold) == pytest.approx(0.375)
    # With FN = 2 instead, k=3 costs (2*1 + 1*1)/8 = 3/8 and k=6 costs (2*0 + 1*3)/8 = 3/8, a
    # tie: the higher threshold wins (fewer refusals), halfway between 0.7 and 0.6 = 0.65.
    tie = best_threshold(y, p, CostWeights(fn=2.0, fp=1.0))
    assert tie.threshold == pytest.approx(0.65)
    assert tie.cost == pytest.approx(3 / 8)
    assert (tie.false_negatives, tie.false_positives) == (1, 1)


def test_cost_tie_goes_to_fewest_refusals() -> None:
    # FN = FP = 1, y = [0, 1], p = [0.8, 0.6]:
    #   refuse none: FN 1 -> 0.5; refuse 0.8: FN 1 FP 1 -> 1.0; refuse both: FP 1 -> 0.5.
    # Tie between "none" and "both": refuse no one, so the threshold is just above 0.8.
    y, p = np.array([0, 1]), np.array([0.8, 0.6])
    choice = best_threshold(y, p, CostWeights(fn=1.0, fp=1.0))
    assert choice.cost == pytest.approx(0.5)
    assert 0.8 < choice.threshold < 0.8 + 1e-12
    assert (choice.false_negatives, choice.false_positives) == (1, 0)
    assert business_cost(y, p, choice.threshold, CostWeights(1.0, 1.0)) == pytest.approx(0.5)


def test_equal_scores_are_never_split() -> None:
    # Two clients share 0.5; cutting between them (FN 0, FP 0, cost 0) is not a real threshold.
    # Valid cuts: none refused 10/3, both 0.5 refused 1/3, all refused 2/3.
    y, p = np.array([1, 0, 0]), np.array([0.5, 0.5, 0.1])
    choice = best_threshold(y, p)
    assert choice.cost == pytest.approx(1 / 3)
    assert choice.threshold == pytest.approx(0.3)
    assert business_cost(y, p, choice.threshold) == pytest.approx(choice.cost)


def test_all_positive_refuses_everyone() -> None:
    y, p = np.ones(5), np.array([0.2, 0.9, 0.5, 0.5, 0.7])
    choice = best_threshold(y, p)
    assert choice.threshold == 0.2  # the lowest score: every client is refused
    assert choice.cost == 0.0
    assert (choice.false_negatives, choice.false_positives) == (0, 0)
    assert business_cost(y, p, choice.threshold) == 0.0


def test_all_negative_grants_everyone() -> None:
    y, p = np.zeros(4), np.array([0.1, 0.95, 0.3, 0.95])
    choice = best_threshold(y, p)
    assert choice.threshold > 0.95
    assert choice.cost == 0.0
    assert not np.any(p >= choice.threshold)
    assert business_cost(y, p, choice.threshold) == 0.0


def test_search_is_exact_against_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(2, 60))
        y = rng.random(n) < 0.2
        p = np.round(rng.random(n), 2)  # rounding makes ties in scores
        weights = CostWeights(fn=float(rng.integers(1, 15)), fp=1.0)
        choice = best_threshold(y, p, weights)
        # Every distinct score, and 1.0 (refuse no one) unless a score is 1.0 itself.
        candidates = [*np.unique(p), *([1.0] if p.max() < 1 else [])]
        brute = min(business_cost(y, p, t, weights) for t in candidates)
        assert choice.cost == pytest.approx(brute)
        assert business_cost(y, p, choice.threshold, weights) == pytest.approx(choice.cost)


def test_business_cost_counts_each_error() -> None:
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.1, 0.8, 0.2, 0.6])
    # threshold 0.5 refuses 0.9 (TP), 0.8 (FP), 0.6 (FP); grants 0.1 (FN), 0.2 (TN).
    assert business_cost(y, p, 0.5) == pytest.approx((10 * 1 + 1 * 2) / 5)
    assert business_cost(y, p, 0.5, CostWeights(fn=3, fp=0.5)) == pytest.approx((3 + 1) / 5)
    # A score equal to the threshold is refused.
    assert business_cost(y, p, 0.9) == pytest.approx(10 / 5)


@pytest.mark.parametrize(
    ("fn", "fp"), [(0, 1), (10, 0), (-1, 1), (1, -2), (math.inf, 1), (1, math.nan)]
)
def test_weights_must_be_positive_and_finite(fn: float, fp: float) -> None:
    with pytest.raises(ValueError, match="positive finite"):
        CostWeights(fn=fn, fp=fp)


def test_default_weights_are_ten_to_one() -> None:
    assert CostWeights() == CostWeights(fn=10.0, fp=1.0)


@pytest.mark.parametrize(
    ("y", "p"), [([], []), ([1, 0], [0.5]), ([1], [0.2, 0.3])], ids=["empty", "short", "long"]
)
def test_inputs_must_match(y: list[int], p: list[float]) -> None:
    with pytest.raises(ValueError, match="equal length"):
        best_threshold(np.array(y), np.array(p))


def test_a_score_of_one_keeps_the_threshold_within_bounds() -> None:
    # No threshold <= 1 grants a client scored exactly 1.0, so "refuse no one" is not on offer:
    # the reported cost must be the cost the returned threshold really gives.
    y, p = np.array([0, 0, 1]), np.array([1.0, 0.4, 0.2])
    choice = best_threshold(y, p, CostWeights(fn=1.0, fp=1.0))
    assert choice.threshold <= 1.0
    assert business_cost(y, p, choice.threshold, CostWeights(1.0, 1.0)) == pytest.approx(
        choice.cost
    )
    # Options: refuse 1.0 only -> FN 1 FP 1 = 2/3; refuse 1.0 and 0.4 -> FN 1 FP 2 = 1;
    # refuse all -> FP 2 = 2/3. Tie: the higher threshold, between 1.0 and 0.4 = 0.7.
    assert choice.threshold == pytest.approx(0.7)
    assert choice.cost == pytest.approx(2 / 3)
