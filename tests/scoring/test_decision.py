"""The one decision rule: threshold, NaN never granted, refer when too little is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.decision import ReferPolicy, decide, decide_all, missing_key_counts, refused
from scoring.model import ScoringModel

POLICY = ReferPolicy(("A", "B", "C", "D"), max_missing=2)


def test_threshold_rule_without_missing_information() -> None:
    assert decide(0.1, 0.3, POLICY).decision == "grant"
    assert decide(0.3, 0.3, POLICY).decision == "refuse"
    assert decide(math.nan, 0.3, POLICY).decision == "refuse"


def test_more_than_max_missing_key_features_refers_whatever_the_probability() -> None:
    for probability in (0.0, 0.9, math.nan):
        verdict = decide(probability, 0.3, POLICY, missing={"A", "C", "D", "Z"})
        assert (verdict.decision, verdict.reason) == ("refer", "missing_information")
        assert verdict.missing == ("A", "C", "D")  # in the policy's order, non-key names left out


def test_at_most_max_missing_decides_and_still_names_them() -> None:
    verdict = decide(0.1, 0.3, POLICY, missing={"B", "D", "Z"})
    assert (verdict.decision, verdict.missing) == ("grant", ("B", "D"))


def test_policy_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="max_missing"):
        ReferPolicy(("A", "B"), max_missing=2)


def test_vectorised_rule_matches_the_scalar_one() -> None:
    p = np.array([0.1, 0.5, np.nan, 0.1, 0.5])
    X = np.array(
        [
            [1, 1, 1, 1],
            [1, 1, 1, np.nan],
            [1, 1, 1, 1],
            [np.nan, np.nan, np.nan, 1],
            [np.nan] * 4,
        ]
    )
    counts = missing_key_counts(X, ["A", "B", "C", "D"], POLICY)
    assert counts.tolist() == [0, 1, 0, 3, 4]
    verdicts = decide_all(p, 0.3, POLICY, counts)
    names = np.array(["A", "B", "C", "D"])
    expected = [
        decide(float(pi), 0.3, POLICY, set(names[np.isnan(row)]))
        for pi, row in zip(p, X, strict=True)
    ]
    assert verdicts.decision.tolist() == [v.decision for v in expected]
    assert verdicts.reason.tolist() == [v.reason for v in expected]
    assert verdicts.decision.tolist() == ["grant", "refuse", "refuse", "refer", "refer"]
    # the cost curves keep the threshold part only
    assert refused(p, 0.3).tolist() == [False, True, True, False, True]


def test_an_empty_record_is_referred_by_the_model(model: ScoringModel) -> None:
    x, _ = model.vector({})
    score = model.score(x)
    assert score.decision == "refer"
    assert score.decision_reason == "missing_information"
    assert list(score.missing_key_features) == list(model.policy.features)
    assert model.explain(x).decision == "refer"


def test_a_full_record_is_not_referred(model: ScoringModel) -> None:
    x = model.reference[model.feature_names].to_numpy(dtype="float64")
    known = ~np.isnan(x[:, [model.feature_names.index(f) for f in model.policy.features]])
    row = x[int(np.argmax(known.sum(axis=1)))]
    score = model.score(row)
    assert score.decision in {"grant", "refuse"}
    assert score.verdict == model.decide(score.probability, model.missing_in(row))
