"""ScoringModel: probability of default, decision and exact TreeSHAP explanation.

Single rows go straight to the LightGBM Booster as a numpy row with one thread: the sklearn
wrapper costs ~1 ms of checks per call and the default two OpenMP threads stall ~8 ms on some
calls on 2-core machines (measured, see shared/notes/performance.md).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoring.bundle import Bundle, load_bundle
from scoring.decision import Decision, DecisionReason, ReferPolicy, Verdict, decide
from scoring.errors import InvalidFeatureValueError, UnknownFeatureError
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


# value types a batch can hand to numpy as they are (bool is refused: it is not one of them)
_PLAIN_NUMBERS = frozenset({float, int, type(None)})


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


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
        refer = bundle.metadata.refer
        self.policy = ReferPolicy(tuple(refer.features), refer.max_missing)

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

    def missing_in(self, x: np.ndarray) -> set[str]:
        """Names of the features that are NaN in a model-ready row."""
        return {self.feature_names[i] for i in np.flatnonzero(np.isnan(x.reshape(-1)))}

    def transform(
        self, raw: pd.DataFrame, aux: Mapping[str, pd.DataFrame] | None = None
    ) -> pd.DataFrame:
        """Raw application rows -> the model's features, exactly as in training."""
        return self.builder.transform(raw, aux)

    def vector(self, features: Mapping[str, Any]) -> tuple[np.ndarray, list[str]]:
        """A model-ready row from a {feature: number | None} mapping, and the missing names.

        Missing is legitimate (LightGBM routes it); anything that is not a finite number, or a
        number outside the feature's documented valid range (scoring.plausibility), is an error
        naming the feature, because silently scoring garbage would be a wrong decision.
        """
        unknown = [name for name in features if name not in self._position]
        if unknown:
            raise UnknownFeatureError(unknown)
        row = np.full(len(self.feature_names), np.nan, dtype="float64")
        for name, value in features.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise InvalidFeatureValueError(
                    name, f"expected a number or null, got {type(value).__name__}"
                )
            number = float(value)
            if not math.isfinite(number):
                raise InvalidFeatureValueError(
                    name, "must be a finite number (NaN and infinity are not)"
                )
            row[self._position[name]] = number
        plausibility().check_features(features)
        missing = [n for n in self.feature_names if features.get(n) is None]
        return row, missing

    def matrix(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, list[list[str]]]:
        """Model-ready rows of many records in one pass, and each record's missing names.

        Same rules as ``vector`` (unknown names, non-finite numbers and implausible values are
        errors naming the feature); types and finiteness are checked on the whole matrix at
        once instead of value by value. Records sharing the order of their names (a batch
        usually does) share one column index, and their values go to numpy in one call."""
        position = self._position
        columns_of: dict[tuple[str, ...], np.ndarray] = {}
        parts: list[np.ndarray] = []
        values: list[Any] = []
        unknown: set[str] = set()
        for features in records:
            names = tuple(features)
            cols = columns_of.get(names)
            if cols is None:
                unknown.update(name for name in names if name not in position)
                cols = np.fromiter((position.get(n, -1) for n in names), np.intp, len(names))
                columns_of[names] = cols
            parts.append(cols)
            values.extend(features.values())
        if unknown:
            raise UnknownFeatureError(sorted(unknown))
        matrix = np.full((len(records), len(self.feature_names)), np.nan, dtype="float64")
        if values:
            # bool is an int and numpy takes text for numbers: both are refused, by type
            if not set(map(type, values)) <= _PLAIN_NUMBERS:
                self._refuse_types(values, np.concatenate(parts))
            flat = np.array(values, dtype="float64")  # None -> NaN: missing
            nan = np.flatnonzero(~np.isfinite(flat))
            bad = [int(i) for i in nan if values[i] is not None]
            if bad:
                name = self.feature_names[int(np.concatenate(parts)[bad[0]])]
                raise InvalidFeatureValueError(
                    name, "must be a finite number (NaN and infinity are not)"
                )
            rows = np.repeat(np.arange(len(records)), [len(c) for c in parts])
            matrix[rows, np.concatenate(parts)] = flat
        check = plausibility()
        for row in check.implausible_rows(matrix, self.feature_names):
            check.check_features(records[int(row)])  # raises, naming the field
        names_array = np.asarray(self.feature_names, dtype=object)
        missing = [names_array[mask].tolist() for mask in np.isnan(matrix)]
        return matrix, missing

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

    def contributions(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """Exact SHAP (n, features + 1) in log-odds: the last column is the base value.

        TreeSHAP for one booster; for an ensemble, the weighted sum of its members' exact SHAP
        (scoring/ensemble.py), so base + contributions == the served raw score either way."""
        matrix = np.ascontiguousarray(X, dtype="float64")
        if self.booster is None:
            return self.ensemble.contributions(matrix, threads)
        return np.asarray(
            self.booster.predict(matrix, pred_contrib=True, num_threads=threads), dtype="float64"
        )

    def explain(self, x: np.ndarray) -> Explanation:
        """Exact TreeSHAP of one row: base value + contributions == the model's raw score."""
        row = x.reshape(1, -1)
        contrib = self.contributions(row)[0]
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
