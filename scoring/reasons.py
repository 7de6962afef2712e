"""Explanations an advisor can read to a client: top contributions and plain sentences."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
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


@cache
def _name_ranks(names: tuple[str, ...]) -> np.ndarray:
    """Alphabetical rank of each feature: the tie-break of equal contributions."""
    return np.argsort(np.argsort(np.array(names)))


def top_contributions(
    explanation: Explanation, model: ScoringModel, top: int, lang: str = "en"
) -> tuple[list[Contribution], int, float]:
    """The `top` largest contributions by |SHAP| (ties by name), then the rest's count and sum."""
    shap_values = explanation.shap
    names = model.feature_names
    order = np.lexsort((_name_ranks(tuple(names)), -np.abs(shap_values))).tolist()
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
    info = model.feature_info(feature)
    levels = info.levels if info is not None else None
    if levels and float(value).is_integer() and 0 <= int(value) < len(levels):
        return str(levels[int(value)])
    if info is not None and info.dtype == "binary":
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


@cache
def _reason_units(names: tuple[str, ...]) -> tuple[list[int], list[tuple[str, int, np.ndarray]]]:
    """Features told alone, and each group as (prefix, representative index, member indices)."""
    grouped: set[int] = set()
    groups = []
    for prefix, (representative, _, _) in REASON_GROUPS.items():
        members = np.array([i for i, n in enumerate(names) if n.startswith(prefix)], dtype=int)
        if members.size and representative in names:
            groups.append((prefix, names.index(representative), members))
            grouped.update(members.tolist())
    return [i for i in range(len(names)) if i not in grouped], groups


def grouped_contributions(
    explanation: Explanation, model: ScoringModel, lang: str
) -> tuple[np.ndarray, list[Contribution | int]]:
    """SHAP of every reason unit (lone features and merged groups), and what each unit is:
    a feature index, or a ready Contribution for a group."""
    alone, groups = _reason_units(tuple(model.feature_names))
    shap_values = explanation.shap
    units: list[Contribution | int] = list(alone)
    totals = [float(shap_values[i]) for i in alone]
    for prefix, representative, members in groups:
        _, english, french = REASON_GROUPS[prefix]
        value = float(explanation.values[representative])
        total = float(shap_values[members].sum())
        units.append(
            Contribution(
                feature=model.feature_names[representative],
                label=french if lang == "fr" else english,
                value=None if math.isnan(value) else value,
                shap=total,
            )
        )
        totals.append(total)
    return np.asarray(totals), units


def reasons(
    explanation: Explanation, model: ScoringModel, lang: str = "en", n: int = 3
) -> dict[str, list[str]]:
    """Up to `n` sentences each way: 'against' the client (towards refusal) and 'for'.

    Related features are told as one reason (see REASON_GROUPS), so the three reasons a client
    hears are three different facts, not one score seen three ways. Only the chosen reasons are
    built: this runs on every explanation served.
    """
    totals, units = grouped_contributions(explanation, model, lang)
    against: list[Contribution] = []
    favour: list[Contribution] = []
    for position in np.argsort(-np.abs(totals), kind="stable"):
        if len(against) >= n and len(favour) >= n:
            break
        total = float(totals[position])
        side = against if total > 0 else favour if total < 0 else None
        if side is None or len(side) >= n:
            continue
        unit = units[position]
        if isinstance(unit, int):
            value = float(explanation.values[unit])
            unit = Contribution(
                feature=model.feature_names[unit],
                label=model.label(model.feature_names[unit], lang),
                value=None if math.isnan(value) else value,
                shap=total,
            )
        side.append(unit)

    def sentences(chosen: list[Contribution]) -> list[str]:
        return [_sentence(i, format_value(model, i.feature, i.value, lang), lang) for i in chosen]

    return {"against": sentences(against), "for": sentences(favour)}
