"""The decision rule: the one place where a probability of default becomes a decision.

Every surface (the API, the CLI, batch scoring, the counterfactual search, the reference
statistics, the business cost) asks this module, so a change of rule is made here once and
reaches them all.

Three outcomes:
- ``refer`` (to a human, reason ``missing_information``) when more than ``max_missing`` of the
  model's most important application features are unknown: too little is known to decide
  automatically, whatever the probability says (an empty record would otherwise be granted);
- ``refuse`` when the probability is at or above the threshold, or not a number;
- ``grant`` otherwise.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Decision = Literal["grant", "refuse", "refer"]
DecisionReason = Literal["below_threshold", "at_or_above_threshold", "missing_information"]
DECISIONS: tuple[Decision, ...] = ("grant", "refuse", "refer")


@dataclass(frozen=True)
class ReferPolicy:
    """Refer when more than ``max_missing`` of ``features`` (the K most important) are unknown."""

    features: tuple[str, ...]
    max_missing: int

    def __post_init__(self) -> None:
        if not 0 <= self.max_missing < max(len(self.features), 1):
            raise ValueError("max_missing must be in [0, number of key features)")

    def missing_of(self, missing: Collection[str]) -> tuple[str, ...]:
        """The key features among the missing names, in order of importance."""
        if not isinstance(missing, set | frozenset):  # a list (a batch's rows): O(1) lookups
            missing = set(missing)
        return tuple(name for name in self.features if name in missing)

    def refers(self, missing_key_count: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which rows are referred, from how many key features each lacks (vectorised)."""
        return np.asarray(missing_key_count) > self.max_missing


@dataclass(frozen=True)
class Verdict:
    """A decision and why it was taken (a stable code; wording is the reader's business).

    ``missing`` lists the key features of the refer policy the record lacks (also on a grant or
    a refusal, where they were too few to refer)."""

    decision: Decision
    reason: DecisionReason
    missing: tuple[str, ...] = field(default=())


_GRANT = Verdict("grant", "below_threshold")
_REFUSE = Verdict("refuse", "at_or_above_threshold")


def refused(probability: npt.ArrayLike, threshold: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Which probabilities are at or above the threshold (vectorised; thresholds may be an array
    that broadcasts, e.g. a cost curve over many thresholds). The threshold part of the rule,
    which the cost curves and metrics use.

    Written as "not below" so that a probability that is not a number is never granted.
    """
    return ~(np.asarray(probability, dtype="float64") < threshold)


def decide(
    probability: float,
    threshold: float,
    policy: ReferPolicy | None = None,
    missing: Collection[str] = (),
) -> Verdict:
    """The decision on one probability of default, given which features the record lacks."""
    key = policy.missing_of(missing) if policy is not None else ()
    if policy is not None and bool(policy.refers(len(key))):
        return Verdict("refer", "missing_information", key)
    verdict = _REFUSE if bool(refused(probability, threshold)) else _GRANT
    return Verdict(verdict.decision, verdict.reason, key) if key else verdict


@dataclass(frozen=True)
class Verdicts:
    """Decisions on many probabilities: two aligned arrays of codes."""

    decision: npt.NDArray[np.str_]
    reason: npt.NDArray[np.str_]


def decide_all(
    probability: npt.ArrayLike,
    threshold: float,
    policy: ReferPolicy | None = None,
    missing_key_count: npt.ArrayLike | None = None,
) -> Verdicts:
    """The decisions on many probabilities (vectorised: batch scoring, the CLI).

    ``missing_key_count``: per row, how many of the policy's key features are missing (see
    ``missing_key_counts``); without a policy, no row is referred."""
    refuse = refused(probability, threshold)
    decision = np.where(refuse, _REFUSE.decision, _GRANT.decision).astype("<U6")
    reason = np.where(refuse, _REFUSE.reason, _GRANT.reason).astype("<U21")
    if policy is not None and missing_key_count is not None:
        refer = policy.refers(missing_key_count)
        decision[refer] = "refer"
        reason[refer] = "missing_information"
    return Verdicts(decision=decision, reason=reason)


def missing_key_counts(
    X: npt.ArrayLike, feature_names: Sequence[str], policy: ReferPolicy
) -> npt.NDArray[np.int64]:
    """Per row of a model-ready matrix, how many of the policy's key features are NaN."""
    matrix = np.asarray(X, dtype="float64")
    position = {name: i for i, name in enumerate(feature_names)}
    columns = [position[name] for name in policy.features if name in position]
    return np.isnan(matrix[:, columns]).sum(axis=1).astype("int64")
