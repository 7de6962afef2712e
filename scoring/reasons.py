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
    # "label: value, which ..." agrees whatever the label's number ("External scores", "Age").
    raises = item.shap > 0
    if lang == "fr":
        effect = "augmente" if raises else "réduit"
        return f"{item.label} : {value}, ce qui {effect} le risque de défaut."
    effect = "raises" if raises else "lowers"
    return f"{item.label}: {value}, which {effect} the risk of default."


# Features that are several views of one fact, told to a client as one reason: the group's
# contribution is the sum of its members', shown with the value of its representative feature.
REASON_GROUPS: dict[str, tuple[str, str, str]] = {
    # prefix: (representative feature, English label, French label)
    "EXT_SOURCE_": ("EXT_SOURCE_MEAN", "External credit scores", "Scores de crédit externes"),
}


def grouped_contributions(items: list[Contribution], lang: str) -> list[Contribution]:
    """Merge the members of each reason group into one contribution, sorted by |SHAP|."""
    merged: list[Contribution] = []
    groups: dict[str, list[Contribution]] = {}
    for item in items:
        prefix = next((p for p in REASON_GROUPS if item.feature.startswith(p)), None)
        if prefix is None:
            merged.append(item)
        else:
            groups.setdefault(prefix, []).append(item)
    for prefix, members in groups.items():
        representative, english, french = REASON_GROUPS[prefix]
        value = next((m.value for m in members if m.feature == representative), None)
        merged.append(
            Contribution(
                feature=representative,
                label=french if lang == "fr" else english,
                value=value,
                shap=float(sum(m.shap for m in members)),
            )
        )
    return sorted(merged, key=lambda c: (-abs(c.shap), c.feature))


def reasons(
    explanation: Explanation, model: ScoringModel, lang: str = "en", n: int = 3
) -> dict[str, list[str]]:
    """Up to `n` sentences each way: 'against' the client (towards refusal) and 'for'.

    Related features are told as one reason (see REASON_GROUPS), so the three reasons a client
    hears are three different facts, not one score seen three ways.
    """
    items, _, _ = top_contributions(explanation, model, len(model.feature_names), lang)
    items = grouped_contributions(items, lang)
    against = [i for i in items if i.shap > 0][:n]
    favour = [i for i in items if i.shap < 0][:n]

    def sentences(chosen: list[Contribution]) -> list[str]:
        return [_sentence(i, format_value(model, i.feature, i.value, lang), lang) for i in chosen]

    return {"against": sentences(against), "for": sentences(favour)}
