"""Raw Home Credit tables -> model features: the one transform used by training, API and batch.

`FeatureBuilder.fit` learns only what must be fixed at training time (category vocabularies,
which auxiliary tables exist); `transform` is then a pure, deterministic function of the raw
rows, so the API and batch scoring see exactly the vectors the model was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scoring.aggregates import AGGREGATORS, aggregate_sources
from scoring.schema import APPLICATION_KINDS, ID, NO_DATE

DAYS_EMPLOYED_ANOMALY = NO_DATE  # Kaggle's placeholder for "not employed" (mostly pensioners)
DAYS_PER_YEAR = 365.25

# Columns turned into 0/1 flags: value meaning 1.
BINARY_COLUMNS: dict[str, tuple[str, str]] = {
    "FLAG_OWN_CAR": ("OWNS_CAR", "Y"),
    "FLAG_OWN_REALTY": ("OWNS_REALTY", "Y"),
    "NAME_CONTRACT_TYPE": ("REVOLVING_LOAN", "Revolving loans"),
    "CODE_GENDER": ("GENDER_MALE", "M"),
    "EMERGENCYSTATE_MODE": ("BUILDING_EMERGENCY_STATE", "Yes"),
}
# Education has a natural order: an ordinal code reads better in an explanation than a category.
EDUCATION_ORDER = [
    "Lower secondary",
    "Secondary / secondary special",
    "Incomplete higher",
    "Higher education",
    "Academic degree",
]
_EDUCATION_LEVELS = pd.Index(EDUCATION_ORDER, dtype=object)
NOMINAL_COLUMNS = [
    c
    for c, k in APPLICATION_KINDS.items()
    if k == "category" and c not in BINARY_COLUMNS and c != "NAME_EDUCATION_TYPE"
]
# DAYS_* become years (positive, readable); the raw day counts are not kept as features.
YEARS_FROM_DAYS: dict[str, str] = {
    "DAYS_BIRTH": "AGE_YEARS",
    "DAYS_EMPLOYED": "EMPLOYED_YEARS",
    "DAYS_REGISTRATION": "REGISTRATION_YEARS",
    "DAYS_ID_PUBLISH": "ID_PUBLISH_YEARS",
    "DAYS_LAST_PHONE_CHANGE": "PHONE_CHANGE_YEARS",
}
DOCUMENT_COLUMNS = [c for c in APPLICATION_KINDS if c.startswith("FLAG_DOCUMENT_")]
# Building statistics come as _AVG, _MODE and _MEDI triplets carrying the same information:
# keeping only _AVG halves the feature count and keeps explanations from splitting one fact
# three ways.
DROPPED_COLUMNS = {
    c for c in APPLICATION_KINDS if c.endswith(("_MODE", "_MEDI")) and c != "TOTALAREA_MODE"
} | {"FLAG_MOBIL", *(c for c in DOCUMENT_COLUMNS if c != "FLAG_DOCUMENT_3")}
PASSTHROUGH_COLUMNS = [
    c
    for c, k in APPLICATION_KINDS.items()
    if k != "category" and c not in YEARS_FROM_DAYS and c not in DROPPED_COLUMNS
]

# Engineered features: name -> (raw columns it comes from).
ENGINEERED_SOURCES: dict[str, list[str]] = {
    "DAYS_EMPLOYED_ANOMALY": ["DAYS_EMPLOYED"],
    "EDUCATION_LEVEL": ["NAME_EDUCATION_TYPE"],
    "CREDIT_INCOME_RATIO": ["AMT_CREDIT", "AMT_INCOME_TOTAL"],
    "ANNUITY_INCOME_RATIO": ["AMT_ANNUITY", "AMT_INCOME_TOTAL"],
    "CREDIT_TERM_YEARS": ["AMT_CREDIT", "AMT_ANNUITY"],
    "CREDIT_GOODS_RATIO": ["AMT_CREDIT", "AMT_GOODS_PRICE"],
    "INCOME_PER_PERSON": ["AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"],
    "EMPLOYED_AGE_RATIO": ["DAYS_EMPLOYED", "DAYS_BIRTH"],
    "CAR_AGE_RATIO": ["OWN_CAR_AGE", "DAYS_BIRTH"],
    "EXT_SOURCE_MEAN": ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"],
    "EXT_SOURCE_MIN": ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"],
    "EXT_SOURCE_MAX": ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"],
    "EXT_SOURCE_STD": ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"],
    "EXT_SOURCE_PROD": ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"],
    "EXT_SOURCE_WEIGHTED": ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"],
    "EXT_SOURCE_MISSING": ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"],
    "DOCUMENT_COUNT": DOCUMENT_COLUMNS,
    "SOCIAL_DEFAULT_RATIO_30": ["DEF_30_CNT_SOCIAL_CIRCLE", "OBS_30_CNT_SOCIAL_CIRCLE"],
    "SOCIAL_DEFAULT_RATIO_60": ["DEF_60_CNT_SOCIAL_CIRCLE", "OBS_60_CNT_SOCIAL_CIRCLE"],
    "BUREAU_ENQUIRIES_YEAR": [
        "AMT_REQ_CREDIT_BUREAU_HOUR",
        "AMT_REQ_CREDIT_BUREAU_DAY",
        "AMT_REQ_CREDIT_BUREAU_WEEK",
        "AMT_REQ_CREDIT_BUREAU_MON",
        "AMT_REQ_CREDIT_BUREAU_QRT",
        "AMT_REQ_CREDIT_BUREAU_YEAR",
    ],
}


# The application columns the transform reads (the others are never looked at): what a batch
# engine must send for scoring (scoring/portfolio_spark.py sends only these and SK_ID_CURR).
_READ = {
    *PASSTHROUGH_COLUMNS,
    *YEARS_FROM_DAYS,
    *BINARY_COLUMNS,
    "NAME_EDUCATION_TYPE",
    *DOCUMENT_COLUMNS,
    *NOMINAL_COLUMNS,
}
APPLICATION_INPUTS: list[str] = [c for c in APPLICATION_KINDS if c in _READ]


Rows = pd.DataFrame | Mapping[str, pd.Series]  # application rows: a frame, or its columns


def _num(frame: Rows, column: str) -> np.ndarray:
    values = frame[column]
    if values.dtype == "float64":  # already numbers (validated rows): no parse, no copy
        return values.to_numpy()
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")


def _codes(values: pd.Series, levels: pd.Index) -> np.ndarray:
    """The position of each value in `levels` as a float, NaN for a missing or unseen value:
    what ``values.map({level: float(i)})`` gives (pandas maps a dict by the same hash lookup),
    without building a Series per column."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    given = pd.Index(values.to_numpy(dtype=object), dtype=object)
    position = levels.get_indexer(given).astype("float64")
    position[position < 0] = np.nan
    return position


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 or missing (never inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = numerator / denominator
    out[~np.isfinite(out)] = np.nan
    return out


def _application_features(app: Rows) -> dict[str, np.ndarray]:
    """Features computed row by row from the application table alone."""
    out: dict[str, np.ndarray] = {c: _num(app, c) for c in PASSTHROUGH_COLUMNS}
    days = {c: _num(app, c) for c in YEARS_FROM_DAYS}
    anomaly = days["DAYS_EMPLOYED"] == DAYS_EMPLOYED_ANOMALY
    days["DAYS_EMPLOYED"] = np.where(anomaly, np.nan, days["DAYS_EMPLOYED"])
    for column, name in YEARS_FROM_DAYS.items():
        out[name] = -days[column] / DAYS_PER_YEAR
    out["DAYS_EMPLOYED_ANOMALY"] = anomaly.astype("float64")
    for column, (name, positive) in BINARY_COLUMNS.items():
        values = app[column]
        out[name] = np.where(values.isna(), np.nan, (values == positive).astype("float64"))
    out["EDUCATION_LEVEL"] = _codes(app["NAME_EDUCATION_TYPE"], _EDUCATION_LEVELS)

    credit, annuity = out["AMT_CREDIT"], out["AMT_ANNUITY"]
    income, goods = out["AMT_INCOME_TOTAL"], out["AMT_GOODS_PRICE"]
    out["CREDIT_INCOME_RATIO"] = _ratio(credit, income)
    out["ANNUITY_INCOME_RATIO"] = _ratio(annuity, income)
    out["CREDIT_TERM_YEARS"] = _ratio(credit, annuity)
    out["CREDIT_GOODS_RATIO"] = _ratio(credit, goods)
    out["INCOME_PER_PERSON"] = _ratio(income, out["CNT_FAM_MEMBERS"])
    out["EMPLOYED_AGE_RATIO"] = _ratio(out["EMPLOYED_YEARS"], out["AGE_YEARS"])
    out["CAR_AGE_RATIO"] = _ratio(out["OWN_CAR_AGE"], out["AGE_YEARS"])

    ext = np.column_stack([out["EXT_SOURCE_1"], out["EXT_SOURCE_2"], out["EXT_SOURCE_3"]])
    present = ~np.isnan(ext)
    count = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        filled = np.where(present, ext, 0.0)
        mean = np.where(count > 0, filled.sum(axis=1) / np.maximum(count, 1), np.nan)
        out["EXT_SOURCE_MEAN"] = mean
        out["EXT_SOURCE_MIN"] = np.where(
            count > 0, np.where(present, ext, np.inf).min(axis=1), np.nan
        )
        out["EXT_SOURCE_MAX"] = np.where(
            count > 0, np.where(present, ext, -np.inf).max(axis=1), np.nan
        )
        squares = np.where(present, (ext - mean[:, None]) ** 2, 0.0).sum(axis=1)
        out["EXT_SOURCE_STD"] = np.where(
            count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), np.nan
        )
        out["EXT_SOURCE_PROD"] = np.where(count == 3, ext.prod(axis=1), np.nan)
        weights = np.array([2.0, 1.0, 3.0])  # EXT_SOURCE_3 and _1 are the strongest in the data
        weight_sum = (present * weights).sum(axis=1)
        weighted = (filled * weights).sum(axis=1)
        out["EXT_SOURCE_WEIGHTED"] = np.where(
            count > 0, weighted / np.maximum(weight_sum, 1), np.nan
        )
    out["EXT_SOURCE_MISSING"] = (3 - count).astype("float64")

    documents = np.column_stack([_num(app, c) for c in DOCUMENT_COLUMNS])
    out["DOCUMENT_COUNT"] = np.nansum(documents, axis=1)
    for window in (30, 60):
        out[f"SOCIAL_DEFAULT_RATIO_{window}"] = _ratio(
            out[f"DEF_{window}_CNT_SOCIAL_CIRCLE"], out[f"OBS_{window}_CNT_SOCIAL_CIRCLE"]
        )
    enquiries = np.column_stack([out[c] for c in ENGINEERED_SOURCES["BUREAU_ENQUIRIES_YEAR"]])
    all_missing = np.isnan(enquiries).all(axis=1)
    out["BUREAU_ENQUIRIES_YEAR"] = np.where(all_missing, np.nan, np.nansum(enquiries, axis=1))
    return out


def _fill_history(X: np.ndarray, names: list[str], history: pd.DataFrame, ids: pd.Index) -> None:
    """The per-client aggregates into their columns of X, as ``frame.join(history, how="left")``
    gives them (NaN for a client without history)."""
    if not history.index.is_unique:  # a history with repeated clients: the join itself
        joined = pd.DataFrame(index=ids).join(history, how="left")
        if len(joined) != len(ids):
            raise ValueError("the aggregates hold repeated clients")
        history, rows = joined, np.arange(len(ids))
    else:
        rows = np.asarray(history.index.get_indexer(ids), dtype=np.intp)
    found = rows >= 0
    known = set(history.columns)
    for j, name in enumerate(names):
        if name in known:
            values = history[name].to_numpy(dtype="float64")
            X[found, j] = values[rows[found]]


@dataclass
class FeatureBuilder:
    """Fitted state of the transform: category vocabularies and the auxiliary tables in use."""

    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    aux_tables: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    # the vocabularies as lookup indexes, built on first use (not part of the fitted state)
    _level_index: tuple[object, dict[str, pd.Index]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def fit(
        self, app: pd.DataFrame, aux: Mapping[str, pd.DataFrame] | None = None
    ) -> FeatureBuilder:
        """Learn vocabularies (levels by decreasing frequency, ties by name) and feature names."""
        self.vocabularies = {}
        for column in NOMINAL_COLUMNS:
            counts = app[column].dropna().astype(str).value_counts()
            ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            self.vocabularies[column] = [str(level) for level, _ in ordered]
        self.aux_tables = sorted(t for t in (aux or {}) if t in AGGREGATORS)
        self.feature_names = []
        self.feature_names = list(self.transform(app.head(1), aux).columns)
        return self

    def aggregates(self, aux: Mapping[str, pd.DataFrame] | None) -> pd.DataFrame:
        """Per-client aggregates of the auxiliary tables the model was trained with, indexed by
        SK_ID_CURR (no rows for a table that is absent now).

        They depend on the auxiliary tables only, not on the application row: computed once for
        a set of clients, they serve every later transform of those clients (what-if, search).
        """
        tables = aux or {}
        frames = [AGGREGATORS[table](tables.get(table), tables) for table in self.aux_tables]
        if not frames:
            return pd.DataFrame(index=pd.Index([], name=ID, dtype="int64"), dtype="float64")
        return pd.concat(frames, axis=1, join="outer").astype("float64")

    def transform(
        self,
        app: Rows,
        aux: Mapping[str, pd.DataFrame] | None = None,
        *,
        aggregates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Model features for each application row: float64, indexed by SK_ID_CURR.

        The client's history comes from `aux` (the raw auxiliary tables) or, equivalently, from
        `aggregates` already computed from them by :meth:`aggregates`. An auxiliary table the
        model was trained with but absent now gives missing values (the model handles them); a
        table it was not trained with is ignored.
        """
        ids, X, names = self.matrix(app, aux, aggregates=aggregates)
        return pd.DataFrame(X, index=ids, columns=names, copy=False)

    def matrix(
        self,
        app: Rows,
        aux: Mapping[str, pd.DataFrame] | None = None,
        *,
        aggregates: pd.DataFrame | None = None,
    ) -> tuple[pd.Index, np.ndarray, list[str]]:
        """What :meth:`transform` gives, as (SK_ID_CURR index, C-contiguous float64 matrix in
        feature order, feature names): the matrix is filled column by column, with no frame
        built, joined or reindexed on the way (batch scoring's path; the same values)."""
        columns = _application_features(app)
        for column, levels in self._levels().items():
            # Unseen levels map to NaN: the model treats them as missing, never as a known level.
            columns[column] = _codes(app[column], levels)
        ids = pd.Index(pd.to_numeric(app[ID]).astype("int64"), name=ID)
        history: pd.DataFrame | None = None
        if self.aux_tables:
            history = self.aggregates(aux) if aggregates is None else aggregates
        names = self.feature_names or [*columns, *(history.columns if history is not None else [])]
        X = np.full((len(ids), len(names)), np.nan)
        for j, name in enumerate(names):
            if name in columns:
                X[:, j] = columns[name]
        if history is not None:
            _fill_history(X, names, history, ids)
        return ids, X, list(names)

    def _levels(self) -> dict[str, pd.Index]:
        """The vocabularies as indexes (built once per builder: a lookup table per column)."""
        cached = self._level_index
        if cached is None or cached[0] is not self.vocabularies:
            index = {c: pd.Index(levels, dtype=object) for c, levels in self.vocabularies.items()}
            cached = self._level_index = (self.vocabularies, index)
        return cached[1]

    @property
    def categorical_features(self) -> list[str]:
        return list(self.vocabularies)

    def sources(self) -> dict[str, list[str]]:
        """Inverse view: for each feature, the raw columns (table.column for auxiliary) it uses."""
        known: dict[str, list[str]] = {c: [c] for c in (*PASSTHROUGH_COLUMNS, *NOMINAL_COLUMNS)}
        known.update({name: [column] for column, name in YEARS_FROM_DAYS.items()})
        known.update({name: [column] for column, (name, _) in BINARY_COLUMNS.items()})
        known.update(ENGINEERED_SOURCES)
        known.update(aggregate_sources(self.aux_tables))
        return {name: known.get(name, []) for name in self.feature_names}

    def to_dict(self) -> dict[str, Any]:
        return {
            "vocabularies": self.vocabularies,
            "aux_tables": self.aux_tables,
            "feature_names": self.feature_names,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> FeatureBuilder:
        return cls(
            vocabularies={k: list(v) for k, v in state["vocabularies"].items()},
            aux_tables=list(state["aux_tables"]),
            feature_names=list(state["feature_names"]),
        )
