"""What would change the decision: the smallest change of actionable raw columns that moves a
refused client below the threshold.

Search by number of columns changed (1, then 2, then 3), each level one batched model call over
a fixed grid of relative changes; within a level the smallest total relative change wins (ties:
lower probability, then column order). Deterministic and bounded: at most three predict calls.

A simulated loan must be a loan that could exist: a change of the credit amount keeps the term
(credit / annuity), so the annuity follows the amount unless the search changes it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations, product
from typing import Any, Protocol

import numpy as np
import pandas as pd

from scoring.decision import Decision, ReferPolicy, decide, decide_all
from scoring.formats import AMOUNTS, amount, digits_apart, number, percent
from scoring.wording import Lang, column_label, lower_first, text, with_article

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

CREDIT, ANNUITY = "AMT_CREDIT", "AMT_ANNUITY"


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
    relative: float  # |after / before - 1|, or TOGGLE_CHANGE; 0 for a derived change
    derived: bool = False  # follows from another change (the annuity of a same-term loan)


@dataclass(frozen=True)
class Counterfactual:
    found: bool
    probability_before: float
    probability_after: float | None
    threshold: float
    changes: list[Change] = field(default_factory=list)
    model_calls: int = 0
    # the client's missing key features and the model's refer policy: a referred client stays
    # referred (changing amounts adds no information), and gets no counterfactual
    missing: tuple[str, ...] = ()
    policy: ReferPolicy | None = None

    @property
    def decision_before(self) -> Decision:
        return decide(self.probability_before, self.threshold, self.policy, self.missing).decision

    @property
    def decision_after(self) -> Decision | None:
        if self.probability_after is None:
            return None
        return decide(self.probability_after, self.threshold, self.policy, self.missing).decision

    @property
    def referred(self) -> bool:
        return self.decision_before == "refer"


def label(column: str, lang: Lang = "en") -> str:
    """The column's label inside a sentence ("credit amount", "montant du crédit")."""
    return lower_first(column_label(column, lang))


def keep_term(changes: list[Change], record: Mapping[str, Any]) -> list[Change]:
    """``changes`` plus the annuity that keeps the loan's term when the credit amount changes
    and the annuity is not changed itself."""
    credit = next((c for c in changes if c.column == CREDIT), None)
    annuity = record.get(ANNUITY)
    if credit is None or any(c.column == ANNUITY for c in changes):
        return changes
    if not isinstance(annuity, int | float) or not np.isfinite(annuity) or annuity <= 0:
        return changes
    after = float(round(float(annuity) * credit.after / credit.before))
    return [*changes, Change(ANNUITY, float(annuity), after, 0.0, derived=True)]


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
    singles = [keep_term([m], record) for column_moves in moves for m in column_moves]
    probs = _score(model, featurize, base, [[], *singles])
    before = float(probs[0])
    calls = 1
    missing, policy = _missing_key_features(model, featurize, base)
    if policy is not None and bool(policy.refers(len(missing))):
        return Counterfactual(False, before, None, model.threshold, [], calls, missing, policy)
    if decide(before, model.threshold).decision == "grant":
        return Counterfactual(True, before, before, model.threshold, [], calls)
    best = _best(singles, probs[1:], model.threshold)
    if best is not None or max_columns < 2:
        return _result(best, before, model.threshold, calls)

    # Level 2: every pair of columns.
    pairs = [
        keep_term(list(combo), record) for a, b in combinations(moves, 2) for combo in product(a, b)
    ]
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
    triples = [
        keep_term(list(combo), record)
        for group in combinations(strong, 3)
        for combo in product(*group)
    ]
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


def _missing_key_features(
    model: Scorer, featurize: Featurize, base: pd.DataFrame
) -> tuple[tuple[str, ...], ReferPolicy | None]:
    """The refer policy's key features missing in the client's record (a model without a policy,
    e.g. a test double, has none)."""
    policy: ReferPolicy | None = getattr(model, "policy", None)
    if policy is None:
        return (), None
    features = featurize(base)
    row = features.to_numpy(dtype=np.float64)[0]
    names = list(features.columns)
    return policy.missing_of({names[i] for i in np.flatnonzero(np.isnan(row))}), policy


def _result(best: Candidate | None, before: float, threshold: float, calls: int) -> Counterfactual:
    if best is None:
        return Counterfactual(False, before, None, threshold, [], calls)
    changes, after = best
    return Counterfactual(True, before, after, threshold, list(changes), calls)


def message(result: Counterfactual, lang: Lang = "en") -> str:
    """One plain sentence for the advisor."""
    if result.referred:
        return text("cf.refer", lang)
    if result.found and not result.changes:
        return text("cf.already", lang)
    if not result.found:
        return text("cf.none", lang)
    derived = {c.column: c for c in result.changes if c.derived}
    parts = [_describe(c, derived, lang) for c in result.changes if not c.derived]
    joined = text("cf.and", lang).join(parts)
    after = result.probability_after or 0.0
    digits = digits_apart(after, result.threshold)
    values = {
        "changes": joined[:1].upper() + joined[1:],
        "before": percent(result.probability_before, lang, digits or 1),
        "after": percent(after, lang, digits or 1),
        "threshold": percent(result.threshold, lang, digits or 1),
    }
    return text("cf.found" if digits else "cf.found_just", lang, **values)


def _value(column: str, value: float, lang: Lang) -> str:
    return amount(value, lang) if column in AMOUNTS else number(value, lang, 2)


def _describe(change: Change, derived: Mapping[str, Change], lang: Lang) -> str:
    name = label(change.column, lang)
    if isinstance(change.after, str):
        value = text("value.yes" if change.after == "Y" else "value.no", lang)
        return text("cf.toggle", lang, name=name, value=value)
    described = text(
        "cf.lower" if change.after < change.before else "cf.raise",
        lang,
        name=with_article(name, lang),
        before=_value(change.column, change.before, lang),
        after=_value(change.column, change.after, lang),
    )
    follows = derived.get(ANNUITY) if change.column == CREDIT else None
    if follows is None:
        return described
    return text(
        "cf.same_term",
        lang,
        change=described,
        before=_value(ANNUITY, follows.before, lang),
        after=_value(ANNUITY, follows.after, lang),
    )
