"""ScoringModel: probability of default, decision and exact TreeSHAP explanation.

Single rows go straight to the LightGBM Booster as a numpy row with one thread: the sklearn
wrapper costs ~1 ms of checks per call and the default two OpenMP threads stall ~8 ms on some
calls on 2-core machines (measured, see shared/notes/performance.md).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from scoring.bundle import Bundle, load_bundle
from scoring.decision import (
    Decision,
    DecisionReason,
    ReferPolicy,
    Verdict,
    decide,
    decide_all,
)
from scoring.errors import ImplausibleValueError, InvalidFeatureValueError, UnknownFeatureError
from scoring.fingerprint import names_digest, row_hashes
from scoring.forest import forest_spans, round_costs
from scoring.metadata import BundleMetadata, FeatureInfo
from scoring.plausibility import plausibility
from scoring.reference import By, Distribution, classes_for, distribution
from scoring.wording import Lang, feature_label


@dataclass(frozen=True)
class Score:
    probability: float
    verdict: Verdict
    threshold: float
    model_version: str

    @property
    def decision(self) -> Decision:
        return self.verdict.decision

    @property
    def decision_reason(self) -> DecisionReason:
        return self.verdict.reason

    @property
    def missing_key_features(self) -> tuple[str, ...]:
        """The refer policy's key features this record lacks (why a ``refer``)."""
        return self.verdict.missing


@dataclass(frozen=True)
class Explanation(Score):
    base_value: float  # log-odds of the average client
    raw_score: float  # log-odds of this client: base_value + shap.sum()
    shap: np.ndarray  # one contribution per feature, in feature order
    values: np.ndarray  # the feature values explained, in feature order


@dataclass(frozen=True)
class Rows:
    """Model-ready rows of a batch of records, checked (``ScoringModel.rows``)."""

    matrix: np.ndarray  # (records, features); NaN: missing
    names: np.ndarray  # the feature names, as an object array

    def missing(self) -> list[list[str]]:
        """Each row's missing feature names, in the model's order."""
        return split_rows(np.isnan(self.matrix), self.names)


@dataclass(frozen=True)
class RowScores:
    """The scores of a batch as aligned lists (``ScoringModel.decide_rows``)."""

    probability: list[float]
    decision: list[Decision]
    reason: list[DecisionReason]
    missing_key: list[list[str]]  # the refer policy's key features each row lacks
    threshold: float
    model_version: str


def split_rows(mask: np.ndarray, names: np.ndarray) -> list[list[str]]:
    """Per row of a boolean (rows, columns) mask, the names of its True columns, in order: one
    vectorised pass instead of one numpy call per row."""
    rows, cols = np.nonzero(mask)
    flat = names[cols].tolist()
    bounds = np.searchsorted(rows, np.arange(len(mask) + 1)).tolist()
    return [flat[a:b] for a, b in pairwise(bounds)]


# value types a batch can hand to numpy as they are (bool is refused: it is not one of them)
_PLAIN_NUMBERS = frozenset({float, int, type(None)})


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# A forest with fewer leaves than this is explained in one piece: at ~2,800 leaves (0.27 ms of
# pred_contrib) handing half of it to a second thread cost more than it saved, at ~18,000 leaves
# (4.3 ms) it halved the latency (bench/results/explain-split.md).
SPLIT_MIN_LEAVES = 6000


def refuse_not_finite(feature: str, record: int) -> NoReturn:
    """Raise: record ``record`` of a columnar batch gives ``feature`` a NaN or an infinity."""
    raise InvalidFeatureValueError(
        feature, f"record {record}: must be a finite number (NaN and infinity are not)"
    )


class ScoringModel:
    """A loaded bundle ready to score and explain. Thread-safe for reads."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.booster = bundle.booster  # None when the bundle serves an ensemble
        self.ensemble = bundle.served  # the served model, whatever its members
        self.model_name: str = bundle.model_name
        self.card: dict[str, Any] | None = bundle.card  # comparison, choice, fairness
        self.registry: dict[str, Any] | None = bundle.registry  # registered name and version
        self.builder = bundle.builder
        self.metadata: BundleMetadata = bundle.metadata
        self.version: str = bundle.metadata.version
        self.threshold: float = bundle.metadata.threshold
        self.feature_names: list[str] = list(bundle.builder.feature_names)
        self.reference: pd.DataFrame = bundle.reference
        self.importance: dict[str, float] = dict(
            sorted(bundle.importance.items(), key=lambda item: -item[1])
        )
        self._position = {name: i for i, name in enumerate(self.feature_names)}
        self._names = np.asarray(self.feature_names, dtype=object)
        self._row_prefix = names_digest(self.feature_names)
        refer = bundle.metadata.refer
        self.policy = ReferPolicy(tuple(refer.features), refer.max_missing)
        self._slices: dict[int, list[Any]] = {}  # forest_slices, by number of parts
        self._slicing = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (a spawned worker gets the model): the lock and the slice boosters stay
        behind, the copy builds its own slices when it needs them."""
        state = self.__dict__.copy()
        state["_slices"] = {}
        del state["_slicing"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._slicing = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> ScoringModel:
        return cls(load_bundle(Path(path)))

    def feature_info(self, feature: str) -> FeatureInfo | None:
        return self.metadata.feature(feature)

    def label(self, feature: str, lang: Lang = "en") -> str:
        """The feature's label from the core's catalogue; a name the model lacks is kept as is."""
        return feature_label(feature, lang) if feature in self._position else feature

    def decide(self, probability: float, missing: Collection[str] = ()) -> Verdict:
        """The decision (scoring.decision) on a probability, given the features missing."""
        return decide(probability, self.threshold, self.policy, missing)

    def row_hashes(self, matrix: np.ndarray) -> list[str]:
        """The audit fingerprint of each model-ready row (``scoring.fingerprint``, row-v1): one
        per record of a batch's matrix, or of one ``vector``."""
        return row_hashes(matrix, self._row_prefix)

    def missing_in(self, x: np.ndarray) -> set[str]:
        """Names of the features that are NaN in a model-ready row."""
        return set(self._names[np.isnan(x.reshape(-1))].tolist())

    def transform(
        self, raw: pd.DataFrame, aux: Mapping[str, pd.DataFrame] | None = None
    ) -> pd.DataFrame:
        """Raw application rows -> the model's features, exactly as in training."""
        return self.builder.transform(raw, aux)

    def vector(self, features: Mapping[str, Any]) -> tuple[np.ndarray, list[str]]:
        """A model-ready row from a {feature: number | None} mapping, and the missing names.

        Missing is legitimate (LightGBM routes it); anything that is not a finite number, or a
        number outside the feature's documented valid range (scoring.plausibility), is an error
        naming the feature, because silently scoring garbage would be a wrong decision. The
        values go to numpy in one call and are checked on the whole row at once; a refused row
        is looked at again value by value, for the message naming the first wrong feature.
        """
        position = self._position
        try:
            cols = [position[name] for name in features]
        except KeyError:
            raise UnknownFeatureError([n for n in features if n not in position]) from None
        row = np.full(len(self.feature_names), np.nan, dtype="float64")
        values = list(features.values())
        if values:
            if not set(map(type, values)) <= _PLAIN_NUMBERS:
                self._refuse_values(features)  # raises for what numpy must not convert
            given = np.array(values, dtype="float64")  # None -> NaN: missing
            if np.count_nonzero(~np.isfinite(given)) != values.count(None):
                self._refuse_values(features)  # NaN or infinity given
            row[cols] = given
            check = plausibility()
            if check.implausible_rows(row, self.feature_names).size:
                check.check_features(features)  # raises, naming the field
        return row, self._names[np.isnan(row)].tolist()

    def _refuse_values(self, features: Mapping[str, Any]) -> None:
        """Raise for the first value that is neither a finite number nor null (numpy numbers
        pass), in the record's order."""
        for name, value in features.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise InvalidFeatureValueError(
                    name, f"expected a number or null, got {type(value).__name__}"
                )
            if not math.isfinite(float(value)):
                raise InvalidFeatureValueError(
                    name, "must be a finite number (NaN and infinity are not)"
                )

    def matrix(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, list[list[str]]]:
        """Model-ready rows of many records in one pass, and each record's missing names.

        Same rules as ``vector`` (unknown names, non-finite numbers and implausible values are
        errors naming the feature); see ``rows``."""
        rows = self.rows(records)
        return rows.matrix, rows.missing()

    def rows(self, records: Sequence[Mapping[str, Any]], *, typed: bool = False) -> Rows:
        """Model-ready rows of many records in one pass (``matrix`` without the missing names).

        Types, finiteness and valid ranges are checked on the whole batch at once instead of
        value by value. Records sharing the order of their names (a batch usually does) share
        one column index; when every record does, their values go to numpy as one block.
        ``typed``: every value is known to be a finite float or None (a body decoded against
        its schema, api/batchbody.py), so the type and finiteness scans are skipped; names and
        valid ranges are checked all the same."""
        position = self._position
        columns_of: dict[tuple[str, ...], np.ndarray] = {}
        parts: list[np.ndarray] = []
        values: list[Any] = []
        unknown: set[str] = set()
        extend = values.extend
        for features in records:
            names = tuple(features)
            cols = columns_of.get(names)
            if cols is None:
                unknown.update(name for name in names if name not in position)
                cols = np.fromiter((position.get(n, -1) for n in names), np.intp, len(names))
                columns_of[names] = cols
            parts.append(cols)
            extend(features.values())
        if unknown:
            raise UnknownFeatureError(sorted(unknown))
        width = len(self.feature_names)
        if not values:
            matrix = np.full((len(records), width), np.nan, dtype="float64")
        else:
            # bool is an int and numpy takes text for numbers: both are refused, by type
            if not typed and not set(map(type, values)) <= _PLAIN_NUMBERS:
                self._refuse_types(values, np.concatenate(parts))
            flat = np.array(values, dtype="float64")  # None -> NaN: missing
            if not typed:
                self._check_finite(values, flat, parts)
            matrix = self._place(flat, parts, columns_of, len(records))
        check = plausibility()
        for row in check.implausible_rows(matrix, self.feature_names).tolist():
            check.check_features(records[row])  # raises, naming the field
        return Rows(matrix, self._names)

    def column_rows(self, columns: Mapping[str, np.ndarray], n: int) -> Rows:
        """Model-ready rows of a columnar batch of ``n`` records (a binary batch body, e.g.
        Arrow): ``{feature: float64 values}``, NaN where the record's value is missing. A column
        the model does not know, or of another length, is refused; so is an infinite value or a
        value outside the feature's valid range, naming the feature and the record (its row
        index). Telling a NaN sent as a value from a null is the decoder's job: it refuses the
        former (``refuse_not_finite``) before this."""
        position = self._position
        unknown = [name for name in columns if name not in position]
        if unknown:
            raise UnknownFeatureError(unknown)
        matrix = np.full((n, len(self.feature_names)), np.nan, dtype="float64")
        for name, values in columns.items():
            if len(values) != n:
                raise InvalidFeatureValueError(name, f"{len(values)} values for {n} records")
            matrix[:, position[name]] = values
        bad = np.isinf(matrix)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            refuse_not_finite(self.feature_names[col], row)
        check = plausibility()
        for row in check.implausible_rows(matrix, self.feature_names)[:1].tolist():
            given = {name: matrix[row, position[name]] for name in columns}
            record = {name: float(v) for name, v in given.items() if not np.isnan(v)}
            try:
                check.check_features(record)
            except ImplausibleValueError as exc:
                raise exc.at(f"record {row}") from None
        return Rows(matrix, self._names)

    def _place(
        self,
        flat: np.ndarray,
        parts: list[np.ndarray],
        columns_of: dict[tuple[str, ...], np.ndarray],
        n: int,
    ) -> np.ndarray:
        """The (n, features) matrix of the records' values ``flat`` at their columns."""
        width = len(self.feature_names)
        if len(columns_of) == 1:  # one order of names for the whole batch: one block
            cols = parts[0]
            block = flat.reshape(n, len(cols))
            if len(cols) == width and np.array_equal(cols, np.arange(width)):
                return block  # full records in the model's order
            matrix = np.full((n, width), np.nan, dtype="float64")
            matrix[:, cols] = block
            return matrix
        matrix = np.full((n, width), np.nan, dtype="float64")
        rows = np.repeat(np.arange(n), [len(c) for c in parts])
        matrix[rows, np.concatenate(parts)] = flat
        return matrix

    def _check_finite(self, values: list[Any], flat: np.ndarray, parts: list[np.ndarray]) -> None:
        """Raise naming the feature when a NaN or an infinity was given (not a null): every
        value that is not finite in ``flat`` must be a None in ``values`` (looked up at those
        places only: counting the Nones of the whole list cost 14 ns a value)."""
        bad = np.flatnonzero(~np.isfinite(flat)).tolist()
        if bad:
            given = list(map(values.__getitem__, bad))
            if given.count(None) != len(given):
                self._refuse_nonfinite(values, flat, np.concatenate(parts))

    def _refuse_nonfinite(self, values: Sequence[Any], flat: np.ndarray, cols: np.ndarray) -> None:
        """Raise naming the feature of the first NaN or infinity given (not a null)."""
        for i in np.flatnonzero(~np.isfinite(flat)).tolist():
            if values[i] is not None:
                raise InvalidFeatureValueError(
                    self.feature_names[int(cols[i])],
                    "must be a finite number (NaN and infinity are not)",
                )

    def _refuse_types(self, values: Sequence[Any], cols: np.ndarray) -> None:
        """Raise for the first value that is neither a number nor null (numpy numbers pass)."""
        for value, col in zip(values, cols.tolist(), strict=True):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                got = type(value).__name__
                raise InvalidFeatureValueError(
                    self.feature_names[col], f"expected a number or null, got {got}"
                )

    def predict_proba(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """Probabilities of default for a 2-D array of model-ready rows."""
        matrix = np.ascontiguousarray(X, dtype="float64")
        if self.booster is None:
            return self.ensemble.predict_proba(matrix, threads)
        return np.asarray(self.booster.predict(matrix, num_threads=threads), dtype="float64")

    def score(self, x: np.ndarray) -> Score:
        return self.score_of(float(self.predict_proba(x.reshape(1, -1))[0]), x)

    def score_of(self, probability: float, x: np.ndarray) -> Score:
        """The score of a probability this model computed for the row ``x`` (e.g. read from the
        batch cache): the row says which features are missing, for the refer policy."""
        verdict = self.decide(probability, self.missing_in(x))
        return Score(probability, verdict, self.threshold, self.version)

    def scores_of(
        self, probabilities: Sequence[float], missing: Sequence[Collection[str]]
    ) -> list[Score]:
        """The scores of a batch, from its probabilities and each row's missing names (as
        ``matrix`` returns them): no second look at the rows."""
        decide_, threshold, version = self.decide, self.threshold, self.version
        return [
            Score(p, decide_(p, names), threshold, version)
            for p, names in zip(probabilities, missing, strict=True)
        ]

    def decide_rows(self, probabilities: np.ndarray, matrix: np.ndarray) -> RowScores:
        """The scores of a batch in one vectorised pass (``scoring.decision.decide_all``): the
        same decisions as ``score_of`` row by row, without one object per row."""
        p = np.asarray(probabilities, dtype="float64")
        cols, keys = self._key_columns()
        unknown = np.isnan(matrix[:, cols])
        verdicts = decide_all(p, self.threshold, self.policy, unknown.sum(axis=1))
        return RowScores(
            probability=p.tolist(),
            decision=verdicts.decision.tolist(),
            reason=verdicts.reason.tolist(),
            missing_key=split_rows(unknown, keys),
            threshold=self.threshold,
            model_version=self.version,
        )

    def _key_columns(self) -> tuple[list[int], np.ndarray]:
        """Columns of the refer policy's key features that the model has, and their names (in
        the policy's order: most important first)."""
        keys = [name for name in self.policy.features if name in self._position]
        return [self._position[n] for n in keys], np.asarray(keys, dtype=object)

    def contributions(
        self,
        X: np.ndarray,
        threads: int = 1,
        *,
        executor: Executor | None = None,
        parts: int = 1,
    ) -> np.ndarray:
        """Exact SHAP (n, features + 1) in log-odds: the last column is the base value.

        TreeSHAP for one booster; for an ensemble, the weighted sum of its members' exact SHAP
        (scoring/ensemble.py), so base + contributions == the served raw score either way.

        With an `executor` and `parts` > 1, a booster's forest is cut into `parts` slices of
        consecutive trees (``forest_slices``) explained at once, one on the calling thread and
        the others on the executor: SHAP is additive over trees, so their sum, added in slice
        order, is the same explanation (to float rounding, ~1e-15) in about 1/parts of the
        time. A slice the executor has not started when the caller is free is run by the caller
        itself, so a full executor delays the answer but never blocks it."""
        matrix = np.ascontiguousarray(X, dtype="float64")
        if self.booster is None:
            return self.ensemble.contributions(matrix, threads)

        def part(booster: Any) -> np.ndarray:
            return np.asarray(
                booster.predict(matrix, pred_contrib=True, num_threads=threads), dtype="float64"
            )

        slices = self.forest_slices(parts) if executor is not None else []
        if executor is None or not slices:
            return part(self.booster)
        pending = [executor.submit(part, booster) for booster in slices[1:]]
        total = part(slices[0])
        for future, booster in zip(pending, slices[1:], strict=True):
            total += part(booster) if future.cancel() else future.result()
        return total

    def forest_slices(self, parts: int) -> list[Any]:
        """The booster's forest as `parts` boosters of consecutive trees of equal TreeSHAP cost
        (``forest_spans`` over ``round_costs``), built once per `parts`; [] for one part or an
        ensemble. Each slice is a booster of its own: LightGBM keeps a prediction's tree range
        in the booster, so two ranges predicted at once on one booster would mix."""
        if self.booster is None or parts <= 1 or self.iterations <= 1:
            return []
        with self._slicing:
            if parts not in self._slices:
                import lightgbm as lgb

                text = self.booster.model_to_string
                self._slices[parts] = [
                    lgb.Booster(model_str=text(start_iteration=start, num_iteration=count))
                    for start, count in forest_spans(self.round_costs, parts)
                ]
            return self._slices[parts]

    @cached_property
    def iterations(self) -> int:
        """Boosting rounds the booster predicts with by default (its best iteration if it has
        one, else all of them): what ``forest_spans`` slices."""
        if self.booster is None:
            return 0
        best = int(self.booster.best_iteration)
        return best if best > 0 else int(self.booster.current_iteration())

    @cached_property
    def round_costs(self) -> list[float]:
        """TreeSHAP cost of each boosting round the booster predicts with (scoring/forest.py);
        [] for an ensemble."""
        if self.booster is None:
            return []
        return round_costs(
            self.booster.model_to_string(num_iteration=self.iterations),
            int(self.booster.num_model_per_iteration()),
        )

    @cached_property
    def leaves(self) -> int:
        """Leaves of the booster's forest (0 for an ensemble): TreeSHAP's cost grows with them."""
        if self.booster is None:
            return 0
        text = self.booster.model_to_string(num_iteration=self.iterations)
        return sum(int(line[11:]) for line in text.splitlines() if line.startswith("num_leaves="))

    def explain_parts(self, cpus: int) -> int:
        """Slices worth explaining one row in with `cpus` usable CPUs: 2 for a forest of at
        least SPLIT_MIN_LEAVES leaves on a machine with two or more, else 1."""
        return 2 if cpus >= 2 and self.leaves >= SPLIT_MIN_LEAVES else 1

    def explain(
        self, x: np.ndarray, *, executor: Executor | None = None, parts: int = 1
    ) -> Explanation:
        """Exact TreeSHAP of one row: base value + contributions == the model's raw score
        (`executor` and `parts`: see ``contributions``)."""
        row = x.reshape(1, -1)
        contrib = self.contributions(row, executor=executor, parts=parts)[0]
        base, shap_values = float(contrib[-1]), contrib[:-1]
        raw = float(base + shap_values.sum())
        probability = sigmoid(raw)
        return Explanation(
            probability=probability,
            verdict=self.decide(probability, self.missing_in(row)),
            threshold=self.threshold,
            model_version=self.version,
            base_value=base,
            raw_score=raw,
            shap=shap_values,
            values=row[0].copy(),
        )

    def explanation_from(
        self, values: np.ndarray, shap_values: np.ndarray, base: float
    ) -> Explanation:
        """An Explanation rebuilt from precomputed SHAP values (the batch cache)."""
        raw = float(base + float(np.sum(shap_values, dtype="float64")))
        probability = sigmoid(raw)
        return Explanation(
            probability,
            self.decide(probability, self.missing_in(np.asarray(values, dtype="float64"))),
            self.threshold,
            self.version,
            base,
            raw,
            np.asarray(shap_values, dtype="float64"),
            np.asarray(values, dtype="float64"),
        )

    def distribution(self, name: str, by: By = "target", bins: int = 20) -> Distribution:
        """Histogram of one feature in the reference population, class 0 against class 1."""
        if name not in self._position:
            raise UnknownFeatureError([name])
        values = self.reference[name].to_numpy(dtype="float64")
        return distribution(values, classes_for(self.reference, by, self.threshold), bins)
