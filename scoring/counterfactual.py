"""What would change the decision: the smallest change of actionable raw columns that moves a
refused client below the threshold.

Search by number of columns changed (1, then 2, then 3), each level one batched model call over
a fixed grid of relative changes; within a level the smallest total relative change wins (ties:
lower probability, then column order). Deterministic and bounded: at most three predict calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations, product
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from scoring.decision import Decision, decide, decide_all

Lang = Literal["en", "fr"]

DECREASE = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5)
INCREASE = (1.05, 1.1, 1.2, 1.3, 1.5, 1.75, 2.0)
# Which way each known column may move: asking for less credit is advice; asking for more is not.
DIRECTIONS: dict[str, tuple[float, ...]] = {
    "AMT_CREDIT": DECREASE,
    "AMT_ANNUITY": DECREASE,
    "AMT_GOODS_PRICE": DECREASE,
    "AMT_INCOME_TOTAL": INCREASE,
}
BOTH = tuple(sorted(DECREASE + INCREASE, key=lambda f: (abs(f - 1), f)))
YES_NO = {"Y": "N", "N": "Y"}
TOGGLE_CHANGE = 1.0  # a yes/no switch counts as a 100 % change
LEVEL3_COLUMNS = 4  # triples only among the columns whose single change helped most
LEVEL3_STEPS = 4  # ... and only with their largest changes

LABELS: dict[str, dict[Lang, str]] = {
    "AMT_CREDIT": {"en": "credit amount", "fr": "montant du crédit"},
    "AMT_ANNUITY": {"en": "loan annuity", "fr": "annuité du prêt"},
    "AMT_GOODS_PRICE": {"en": "price of the goods", "fr": "prix du bien"},
    "AMT_INCOME_TOTAL": {"en": "income", "fr": "revenu"},
    "FLAG_OWN_CAR": {"en": "owns a car", "fr": "possède une voiture"},
    "FLAG_OWN_REALTY": {"en": "owns real estate", "fr": "possède un bien immobilier"},
}


class Scorer(Protocol):
    threshold: float

    def predict_proba(self, features: np.ndarray) -> np.ndarray: ...


# Raw application rows -> model features: the client's own feature path (ClientBase.features),
# so that the search sees the client's auxiliary history exactly as the score did.
Featurize = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class Change:
    column: str
    before: Any
    after: Any
    relative: float  # |after / before - 1|, or TOGGLE_CHANGE


@dataclass(frozen=True)
class Counterfactual:
    found: bool
    probability_before: float
    probability_after: float | None
    threshold: float
    changes: list[Change] = field(default_factory=list)
    model_calls: int = 0

    @property
    def decision_before(self) -> Decision:
        return decide(self.probability_before, self.threshold).decision

    @property
    def decision_after(self) -> Decision | None:
        if self.probability_after is None:
            return None
        return decide(self.probability_after, self.threshold).decision


def label(column: str, lang: Lang = "en") -> str:
    return LABELS.get(column, {}).get(lang) or column.replace("_", " ").lower()


def candidate_moves(raw: Mapping[str, Any], columns: Sequence[str]) -> list[list[Change]]:
    """Per column, the allowed changes (smallest first); columns that cannot move are left out."""
    moves: list[list[Change]] = []
    for column in columns:
        value = raw.get(column)
        if isinstance(value, str):
            if value in YES_NO:
                moves.append([Change(column, value, YES_NO[value], TOGGLE_CHANGE)])
            continue
        if value is None or not np.isfinite(value) or value == 0:
            continue
        factors = DIRECTIONS.get(column, BOTH)
        column_moves = []
        for factor in factors:
            after = float(value) * factor
            after = float(round(after)) if column.startswith("AMT_") else round(after, 4)
            column_moves.append(Change(column, float(value), after, abs(factor - 1.0)))
        moves.append(column_moves)
    return moves


def find(
    model: Scorer,
    featurize: Featurize,
    raw_row: pd.Series | pd.DataFrame,
    actionable: Sequence[str],
    max_columns: int = 3,
) -> Counterfactual:
    """The smallest change of ``actionable`` columns that turns a refusal into a grant."""
    base = raw_row.to_frame().T if isinstance(raw_row, pd.Series) else raw_row.iloc[[0]]
    base = base.reset_index(drop=True).infer_objects()
    record = {c: _scalar(base.at[0, c]) for c in base.columns}
    moves = candidate_moves(record, [c for c in actionable if c in base.columns])

    # Level 1: the client as is, and every single change.
    singles = [[m] for column_moves in moves for m in column_moves]
    probs = _score(model, featurize, base, [[], *singles])
    before = float(probs[0])
    calls = 1
    if decide(before, model.threshold).decision == "grant":
        return Counterfactual(True, before, before, model.threshold, [], calls)
    best = _best(singles, probs[1:], model.threshold)
    if best is not None or max_columns < 2:
        return _result(best, before, model.threshold, calls)

    # Level 2: every pair of columns.
    pairs = [list(combo) for a, b in combinations(moves, 2) for combo in product(a, b)]
    if pairs:
        pair_probs = _score(model, featurize, base, pairs)
        calls += 1
        best = _best(pairs, pair_probs, model.threshold)
        if best is not None or max_columns < 3:
            return _result(best, before, model.threshold, calls)

    # Level 3: triples among the most helpful columns, with their largest changes.
    helped: dict[int, float] = {}
    offset = 0
    for i, column_moves in enumerate(moves):
        helped[i] = float(np.min(probs[1 + offset : 1 + offset + len(column_moves)]))
        offset += len(column_moves)
    top = sorted(helped, key=lambda i: (helped[i], i))[:LEVEL3_COLUMNS]
    strong = [moves[i][-LEVEL3_STEPS:] for i in sorted(top)]
    triples = [list(combo) for group in combinations(strong, 3) for combo in product(*group)]
    if triples:
        triple_probs = _score(model, featurize, base, triples)
        calls += 1
        best = _best(triples, triple_probs, model.threshold)
    return _result(best, before, model.threshold, calls)


def _scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _score(
    model: Scorer, featurize: Featurize, base: pd.DataFrame, candidates: list[list[Change]]
) -> np.ndarray:
    """One transform + predict_proba call for all candidate rows."""
    frame = base.loc[base.index.repeat(len(candidates))].reset_index(drop=True)
    for column in {c.column for changes in candidates for c in changes}:
        values = frame[column].astype(object).to_numpy(copy=True)
        for row, changes in enumerate(candidates):
            for change in changes:
                if change.column == column:
                    values[row] = change.after
        frame[column] = pd.Series(values).infer_objects()
    features = featurize(frame)
    return np.asarray(model.predict_proba(features.to_numpy(dtype=np.float64)), dtype=np.float64)


Candidate = tuple[list[Change], float]


def _best(candidates: list[list[Change]], probs: np.ndarray, threshold: float) -> Candidate | None:
    granted = decide_all(probs, threshold).decision == "grant"
    crossing = [
        (sum(c.relative for c in changes), float(probs[i]), i)
        for i, changes in enumerate(candidates)
        if granted[i]
    ]
    if not crossing:
        return None
    _, prob, index = min(crossing)
    return candidates[index], prob


def _result(best: Candidate | None, before: float, threshold: float, calls: int) -> Counterfactual:
    if best is None:
        return Counterfactual(False, before, None, threshold, [], calls)
    changes, after = best
    return Counterfactual(True, before, after, threshold, list(changes), calls)


def message(result: Counterfactual, lang: Lang = "en") -> str:
    """One plain sentence for the advisor."""
    fr = lang == "fr"
    if result.found and not result.changes:
        return (
            "Le crédit est déjà accordé : aucun changement nécessaire."
            if fr
            else "The credit is already granted: no change needed."
        )
    if not result.found:
        return (
            "Aucun changement raisonnable des éléments modifiables ne fait passer sous le seuil."
            if fr
            else "No reasonable change of the actionable items brings the client below the "
            "threshold."
        )
    parts = [_describe(change, lang) for change in result.changes]
    joined = (" et " if fr else " and ").join(parts)
    after = result.probability_after or 0.0
    if fr:
        return (
            f"{joined[0].upper()}{joined[1:]} ferait passer la probabilité de défaut de "
            f"{result.probability_before:.1%} à {after:.1%} (seuil {result.threshold:.1%}) : "
            "crédit accordé."
        )
    return (
        f"{joined[0].upper()}{joined[1:]} would bring the default probability from "
        f"{result.probability_before:.1%} to {after:.1%} (threshold {result.threshold:.1%}): "
        "credit granted."
    )


def _describe(change: Change, lang: Lang) -> str:
    name = label(change.column, lang)
    if isinstance(change.after, str):
        yes = change.after == "Y"
        if lang == "fr":
            return f"{name} : {'oui' if yes else 'non'}"
        return f"{name}: {'yes' if yes else 'no'}"
    lower = change.after < change.before
    if lang == "fr":
        verb = "réduire" if lower else "augmenter"
        return f"{verb} le {name} de {change.before:,.0f} à {change.after:,.0f}".replace(",", " ")
    verb = "lowering" if lower else "raising"
    return f"{verb} the {name} from {change.before:,.0f} to {change.after:,.0f}"
