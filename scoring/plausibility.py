"""Valid ranges of the raw application columns and of the model features built from them.

A value can be a finite number and still be absurd: a negative income, an amount of 1e308, a
birth date in the future. Such a record is refused (ImplausibleValueError: the field and its
valid range), never scored, served or audited as a real decision. The ranges live in
resources/plausibility.json and are explained in docs/plausibility.md; every row of the real
Home Credit sample passes them (tests/scoring/test_plausibility.py, realdata).

Beyond one field at a time, one rule ties two: employment cannot have started before the
minimum working age (DAYS_EMPLOYED against DAYS_BIRTH, EMPLOYED_YEARS against AGE_YEARS).
Kaggle's 365243 in DAYS_EMPLOYED means "not employed" and is accepted as such.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from scoring.errors import ImplausibleValueError
from scoring.features import DAYS_PER_YEAR

RESOURCE = "plausibility.json"


@dataclass(frozen=True)
class ValidRange:
    low: float | None
    high: float | None
    why: str

    def contains(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class Bounds:
    """The valid ranges of a list of features as arrays, for vectorised checks."""

    low: np.ndarray
    high: np.ndarray
    employed: int | None  # position of EMPLOYED_YEARS (the cross-field rule), if present
    age: int | None  # position of AGE_YEARS


@dataclass(frozen=True)
class Plausibility:
    columns: dict[str, ValidRange]  # raw application columns
    features: dict[str, ValidRange]  # model features (a passthrough feature shares its column's)
    sentinels: dict[str, tuple[float, ...]]
    min_working_age_years: float
    _bounds: dict[tuple[str, ...], Bounds] = field(default_factory=dict, repr=False, compare=False)

    def column_range(self, name: str) -> ValidRange | None:
        return self.columns.get(name)

    def feature_range(self, name: str) -> ValidRange | None:
        return self.features.get(name) or self.columns.get(name)

    def check_columns(self, record: Mapping[str, Any], only: Collection[str] | None = None) -> None:
        """Raise on the first raw value out of range (``only``: the columns to check, e.g. the
        ones a what-if changed; the cross-field rule runs when one of its columns is checked)."""
        names = record.keys() if only is None else only
        for name in names:
            valid = self.columns.get(name)
            value = _number(record.get(name))
            if valid is None or value is None or value in self.sentinels.get(name, ()):
                continue
            if not valid.contains(value):
                raise ImplausibleValueError(name, value, valid.low, valid.high)
        if only is None or {"DAYS_EMPLOYED", "DAYS_BIRTH"} & set(only):
            self._check_working_age(record)

    def check_features(self, record: Mapping[str, Any]) -> None:
        """Raise on the first model feature out of range (a posted model-ready record)."""
        for name, raw in record.items():
            valid, value = self.feature_range(name), _number(raw)
            if valid is not None and value is not None and not valid.contains(value):
                raise ImplausibleValueError(name, value, valid.low, valid.high)
        employed, age = _number(record.get("EMPLOYED_YEARS")), _number(record.get("AGE_YEARS"))
        if employed is not None and age is not None:
            limit = max(age - self.min_working_age_years, 0.0)
            if employed > limit:
                raise ImplausibleValueError(
                    "EMPLOYED_YEARS", employed, 0.0, round(limit, 4), self._working_age_note
                )

    def implausible_rows(self, matrix: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """Indices of the rows of a model-ready matrix (NaN: missing) that ``check_features``
        refuses, in order: one vectorised pass for a batch (or one row), which then reports the
        first of them through ``check_features`` (the same message as for one record)."""
        rows = np.atleast_2d(matrix)
        bounds = self.bounds(tuple(names))
        # NaN compares False: a missing value is never refused
        bad = ((rows < bounds.low) | (rows > bounds.high)).any(axis=1)
        if bounds.employed is not None and bounds.age is not None:
            employed, age = rows[:, bounds.employed], rows[:, bounds.age]
            bad |= employed > np.maximum(age - self.min_working_age_years, 0.0)
        return np.flatnonzero(bad)

    def bounds(self, names: tuple[str, ...]) -> Bounds:
        """The valid range of every feature of ``names`` as two arrays (no bound: infinite),
        worked out once per feature list."""
        cached = self._bounds.get(names)
        if cached is None:
            ranges = [self.feature_range(name) for name in names]
            low = [-math.inf if r is None or r.low is None else r.low for r in ranges]
            high = [math.inf if r is None or r.high is None else r.high for r in ranges]
            position = {name: i for i, name in enumerate(names)}
            cached = Bounds(
                np.asarray(low, dtype="float64"),
                np.asarray(high, dtype="float64"),
                position.get("EMPLOYED_YEARS"),
                position.get("AGE_YEARS"),
            )
            self._bounds[names] = cached
        return cached

    def _check_working_age(self, record: Mapping[str, Any]) -> None:
        employed, birth = _number(record.get("DAYS_EMPLOYED")), _number(record.get("DAYS_BIRTH"))
        if employed is None or birth is None:
            return
        if employed in self.sentinels.get("DAYS_EMPLOYED", ()):
            return
        # employment started at least min_working_age years after birth
        earliest = math.ceil(birth + self.min_working_age_years * DAYS_PER_YEAR)
        if employed < earliest:
            raise ImplausibleValueError(
                "DAYS_EMPLOYED", employed, earliest, 0.0, self._working_age_note
            )

    @property
    def _working_age_note(self) -> str:
        return f"employment cannot start before age {self.min_working_age_years:g}"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool | str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _ranges(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, ValidRange]:
    return {
        name: ValidRange(entry.get("min"), entry.get("max"), str(entry.get("why", "")))
        for name, entry in entries.items()
    }


@cache
def plausibility() -> Plausibility:
    """The ranges of resources/plausibility.json (read once)."""
    text = resources.files("scoring.resources").joinpath(RESOURCE).read_text(encoding="utf-8")
    data = json.loads(text)
    return Plausibility(
        columns=_ranges(data["columns"]),
        features=_ranges(data["features"]),
        sentinels={k: tuple(float(v) for v in vs) for k, vs in data["sentinels"].items()},
        min_working_age_years=float(data["min_working_age_years"]),
    )
