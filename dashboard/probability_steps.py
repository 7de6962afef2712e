"""An explanation in probability points, the unit an advisor reads.

The API gives each characteristic's contribution in log-odds (exact SHAP values, additive).
Walking from the average client's score to this client's, one contribution at a time in the
order shown, turns each into the points of default probability it adds or takes away: the
steps add up exactly from the average client's probability to this client's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dashboard.api_client import Explanation


@dataclass(frozen=True)
class Step:
    label: str
    value_text: str  # the client's value, as the API words it ("" for the rest)
    start: float  # default probability before this step, 0 to 1
    end: float  # ... and after it

    @property
    def points(self) -> float:
        return (self.end - self.start) * 100

    @property
    def raises(self) -> bool:
        return self.end > self.start


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def average_probability(expl: Explanation) -> float:
    """The default probability of the average client (the model's base value)."""
    return sigmoid(expl["base_value"])


def steps(expl: Explanation, rest_label: str) -> list[Step]:
    """One step per contribution, largest first as the API sorts them, then the rest."""
    terms = [(c["label"], c["value_text"], c["shap"]) for c in expl["contributions"]]
    if expl["rest"]["count"]:
        terms.append((rest_label, "", expl["rest"]["shap"]))
    out = []
    running = expl["base_value"]
    for label, value_text, shap in terms:
        start = sigmoid(running)
        running += shap
        out.append(Step(label, value_text, start, sigmoid(running)))
    return out
