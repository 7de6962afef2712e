"""Explanations an advisor can read to a client: top contributions and plain sentences."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scoring.model import Explanation, ScoringModel


@dataclass(frozen=True)
class Contribution:
    feature: str
    label: str
    value: float | None
    shap: float


def top_contributions(
    explanation: Explanation, model: ScoringModel, top: int, lang: str = "en"
) -> tuple[list[Contribution], int, float]:
    """The `top` largest contributions by |SHAP| (ties by name), then the rest's count and sum."""
    shap_values = explanation.shap
    names = model.feature_names
    order = sorted(range(len(names)), key=lambda i: (-abs(float(shap_values[i])), names[i]))
    chosen = order[:top]
    items = [
        Contribution(
            feature=names[i],
            label=model.label(names[i], lang),
            value=None if math.isnan(explanation.values[i]) else float(explanation.values[i]),
            shap=float(shap_values[i]),
        )
        for i in chosen
    ]
    rest = order[top:]
    return items, len(rest), float(np.sum(shap_values[rest])) if rest else 0.0


def format_value(model: ScoringModel, feature: str, value: float | None, lang: str) -> str:
    """A feature value as words: category level, yes/no, or a rounded number."""
    if value is None:
        return "inconnu" if lang == "fr" else "unknown"
    info = model.features_info.get(feature, {})
    levels = info.get("levels")
    if levels and float(value).is_integer() and 0 <= int(value) < len(levels):
        return str(levels[int(value)])
    if info.get("dtype") == "binary":
        yes, no = ("oui", "non") if lang == "fr" else ("yes", "no")
        return yes if value >= 0.5 else no
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
        return text.replace(",", "\u202f") if lang == "fr" else text
    text = f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return text.replace(".", ",") if lang == "fr" else text


def _sentence(item: Contribution, value: str, lang: str) -> str:
    raises = item.shap > 0
    if lang == "fr":
        effect = "augmente" if raises else "réduit"
        return f"{item.label} ({value}) {effect} le risque de défaut."
    effect = "raises" if raises else "lowers"
    return f"{item.label} ({value}) {effect} the risk of default."


def reasons(
    explanation: Explanation, model: ScoringModel, lang: str = "en", n: int = 3
) -> dict[str, list[str]]:
    """Up to `n` sentences each way: 'against' the client (towards refusal) and 'for'."""
    items, _, _ = top_contributions(explanation, model, len(model.feature_names), lang)
    against = [i for i in items if i.shap > 0][:n]
    favour = [i for i in items if i.shap < 0][:n]

    def sentences(chosen: list[Contribution]) -> list[str]:
        return [_sentence(i, format_value(model, i.feature, i.value, lang), lang) for i in chosen]

    return {"against": sentences(against), "for": sentences(favour)}
