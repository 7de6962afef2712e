"""The decision rule: the one place where a probability of default becomes a decision.

Every surface (the API, the CLI, batch scoring, the counterfactual search, the reference
statistics, the business cost) asks this module, so a change of rule (a third outcome such as
"refer to a human") is made here once and reaches them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Decision = Literal["grant", "refuse"]
DecisionReason = Literal["below_threshold", "at_or_above_threshold"]
DECISIONS: tuple[Decision, ...] = ("grant", "refuse")


@dataclass(frozen=True)
class Verdict:
    """A decision and why it was taken (a stable code; wording is the reader's business)."""

    decision: Decision
    reason: DecisionReason


_GRANT = Verdict("grant", "below_threshold")
_REFUSE = Verdict("refuse", "at_or_above_threshold")


def refused(probability: npt.ArrayLike, threshold: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Which probabilities are refused: at or above the threshold (vectorised; thresholds may be
    an array that broadcasts, e.g. a cost curve over many thresholds).

    Written as "not below" so that a probability that is not a number is never granted.
    """
    return ~(np.asarray(probability, dtype="float64") < threshold)


def decide(probability: float, threshold: float) -> Verdict:
    """The decision on one probability of default."""
    return _REFUSE if bool(refused(probability, threshold)) else _GRANT


@dataclass(frozen=True)
class Verdicts:
    """Decisions on many probabilities: two aligned arrays of codes."""

    decision: npt.NDArray[np.str_]
    reason: npt.NDArray[np.str_]


def decide_all(probability: npt.ArrayLike, threshold: float) -> Verdicts:
    """The decisions on many probabilities (vectorised: batch scoring, the CLI)."""
    refuse = refused(probability, threshold)
    return Verdicts(
        decision=np.where(refuse, _REFUSE.decision, _GRANT.decision),
        reason=np.where(refuse, _REFUSE.reason, _GRANT.reason),
    )
