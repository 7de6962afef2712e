"""Explanations an advisor can read to a client: top contributions and plain sentences."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from scoring.formats import AMOUNTS, amount, number
from scoring.wording import Lang, level, text

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
    explanation: Explanation,
    model: ScoringModel,
    top: int,
    lang: Lang = "en",
    grouped: bool = False,
) -> tuple[list[Contribution], int, float]:
    """The `top` largest contributions by |SHAP| (ties by name), then the rest's count and sum.

    ``grouped`` merges related features into one contribution (see REASON_GROUPS), as the
    reasons do: what a person reads, where the per-feature list is what an integrator audits."""
    if grouped:
        return _top_units(explanation, model, top, lang)
    shap_values = explanation.shap
    names = model.feature_names
    order = np.lexsort((_name_ranks(tuple(names)), -np.abs(shap_values))).tolist()
    chosen = order[:top]
    items = [_contribution(explanation, model, i, float(shap_values[i]), lang) for i in chosen]
    rest = order[top:]
    return items, len(rest), float(np.sum(shap_values[rest])) if rest else 0.0


def _contribution(
    explanation: Explanation, model: ScoringModel, index: int, shap: float, lang: Lang
) -> Contribution:
    value = float(explanation.values[index])
    feature = model.feature_names[index]
    return Contribution(
        feature=feature,
        label=model.label(feature, lang),
        value=None if math.isnan(value) else value,
        shap=shap,
    )


def _top_units(
    explanation: Explanation, model: ScoringModel, top: int, lang: Lang
) -> tuple[list[Contribution], int, float]:
    totals, units = grouped_contributions(explanation, model, lang)
    names = [u.feature if isinstance(u, Contribution) else model.feature_names[u] for u in units]
    order = sorted(range(len(units)), key=lambda i: (-abs(float(totals[i])), names[i]))
    chosen = [_unit(explanation, model, units[i], float(totals[i]), lang) for i in order[:top]]
    rest = order[top:]
    return chosen, len(rest), float(totals[rest].sum()) if rest else 0.0


def _unit(
    explanation: Explanation,
    model: ScoringModel,
    unit: Contribution | int,
    total: float,
    lang: Lang,
) -> Contribution:
    return (
        unit
        if isinstance(unit, Contribution)
        else _contribution(explanation, model, unit, total, lang)
    )


def format_value(model: ScoringModel, feature: str, value: float | None, lang: Lang) -> str:
    """A feature value as words: category level, yes/no, an amount, or a rounded number."""
    if value is None:
        return text("value.unknown", lang)
    info = model.feature_info(feature)
    levels = info.levels if info is not None else None
    if info is not None and levels and float(value).is_integer() and 0 <= int(value) < len(levels):
        column = (info.sources or [feature])[0]
        return level(column, str(levels[int(value)]), lang)
    if info is not None and info.dtype == "binary":
        return text("value.yes" if value >= 0.5 else "value.no", lang)
    if feature in AMOUNTS:
        return amount(value, lang)
    if abs(value) >= 1000 or float(value).is_integer():  # counts and hours: "17", not "17.0"
        return number(value, lang)
    return number(value, lang, 2 if abs(value) < 10 else 1)


def _sentence(item: Contribution, value: str, lang: Lang) -> str:
    # "label: value, which ..." agrees whatever the label's number ("External scores", "Age").
    key = "reason.raises" if item.shap > 0 else "reason.lowers"
    return text(key, lang, label=item.label, value=value)


# Features that are several views of one fact, told to a client as one reason: the group's
# contribution is the sum of its members', shown with the value of its representative feature.
# Each group's label is the catalogue's "group.<prefix>".
REASON_GROUPS: dict[str, str] = {
    # prefix: representative feature
    "EXT_SOURCE_": "EXT_SOURCE_MEAN",
}


@cache
def _reason_units(names: tuple[str, ...]) -> tuple[list[int], list[tuple[str, int, np.ndarray]]]:
    """Features told alone, and each group as (prefix, representative index, member indices)."""
    grouped: set[int] = set()
    groups = []
    for prefix, representative in REASON_GROUPS.items():
        members = np.array([i for i, n in enumerate(names) if n.startswith(prefix)], dtype=int)
        if members.size and representative in names:
            groups.append((prefix, names.index(representative), members))
            grouped.update(members.tolist())
    return [i for i in range(len(names)) if i not in grouped], groups


def grouped_contributions(
    explanation: Explanation, model: ScoringModel, lang: Lang
) -> tuple[np.ndarray, list[Contribution | int]]:
    """SHAP of every reason unit (lone features and merged groups), and what each unit is:
    a feature index, or a ready Contribution for a group."""
    alone, groups = _reason_units(tuple(model.feature_names))
    shap_values = np.asarray(explanation.shap, dtype="float64")
    units: list[Contribution | int] = list(alone)
    totals = shap_values[alone].tolist()  # one numpy call, not one per feature
    for prefix, representative, members in groups:
        value = float(explanation.values[representative])
        total = float(shap_values[members].sum())
        units.append(
            Contribution(
                feature=model.feature_names[representative],
                label=text(f"group.{prefix}", lang),
                value=None if math.isnan(value) else value,
                shap=total,
            )
        )
        totals.append(total)
    return np.asarray(totals), units


def reasons(
    explanation: Explanation, model: ScoringModel, lang: Lang = "en", n: int = 3
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
        side.append(_unit(explanation, model, units[position], total, lang))

    def sentences(chosen: list[Contribution]) -> list[str]:
        return [_sentence(i, format_value(model, i.feature, i.value, lang), lang) for i in chosen]

    return {"against": sentences(against), "for": sentences(favour)}


def grouped_importance(model: ScoringModel, lang: Lang = "en") -> list[Contribution]:
    """Global importance with each group merged as in the reasons, largest first (ties by name).

    A group's importance is the sum of its members' mean |SHAP|: an upper bound of the mean
    |SHAP| of their sum, the usual way to merge importances when only the means are kept.
    ``shap`` carries the importance; ``value`` is None (there is no client)."""
    names = model.feature_names
    alone, groups = _reason_units(tuple(names))
    items = [
        Contribution(
            names[i], model.label(names[i], lang), None, model.importance.get(names[i], 0.0)
        )
        for i in alone
    ]
    for prefix, representative, members in groups:
        total = float(sum(model.importance.get(names[i], 0.0) for i in members))
        items.append(
            Contribution(names[representative], text(f"group.{prefix}", lang), None, total)
        )
    return sorted(items, key=lambda item: (-item.shap, item.feature))
