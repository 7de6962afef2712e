"""The new clients held in memory: raw records, model-ready features (computed once, in one
vectorised transform through the core's `ClientBase`, auxiliary tables included) and, once the
background fill is done, their scores and SHAP values.

Once the batch cache is attached, the feature matrix, the scores and the SHAP values are the
cache's read-only memory maps (``scoring.batch``): every API worker on the machine reads the
same pages, and the worker's own copy of the features is dropped. Likewise, once shared
(``scoring.shared``), the raw rows and the auxiliary aggregates are read from shared maps."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from api.errors import NotFoundError
from scoring.batch import BatchScores
from scoring.clients import ClientBase
from scoring.errors import InvalidFeatureValueError, UnknownColumnError
from scoring.model import Explanation, ScoringModel
from scoring.plausibility import plausibility
from scoring.schema import ID, RAW_COLUMNS
from scoring.shared import SharedTables
from scoring.wording import LANGS, Lang, column_description, column_label

T = TypeVar("T")
BODY_CACHE_MAX = 100_000  # explanation bodies kept (~5-10 KB each)


class ClientStore:
    def __init__(self, base: ClientBase) -> None:
        self.base = base
        self.raw = base.applications
        features = base.features()
        self.ids = self.raw[ID].to_numpy(dtype=np.int64)
        # dict lookup into a numpy table: ~1 us, against ~150 us for df.loc[[id]]
        self.row_of: dict[int, int] = {int(i): n for n, i in enumerate(self.ids)}
        ordered = features.reindex(self.ids)
        self.feature_names = list(features.columns)
        self.features = ordered.to_numpy(dtype=np.float64)
        self._id_text = self.ids.astype(str)
        self.columns = [c for c in RAW_COLUMNS if c in self.raw.columns]
        # (label, description) of every column in every language, worked out once
        self._words = {
            lang: {
                c: (column_label(c, lang), column_description(c, lang=lang)) for c in self.columns
            }
            for lang in LANGS
        }
        self.batch: BatchScores | None = None
        self._batch_rows: np.ndarray | None = None
        # response bodies of stored clients' explanations, by (model version, client, top,
        # lang, group); emptied when the batch cache (and so the SHAP values) changes
        self._bodies: dict[tuple[Any, ...], Any] = {}

    def __len__(self) -> int:
        return len(self.ids)

    # -- lookups ---------------------------------------------------------------------------
    def row(self, client_id: int) -> int:
        try:
            return self.row_of[client_id]
        except KeyError:
            raise NotFoundError("client", client_id) from None

    def feature_row(self, client_id: int) -> np.ndarray:
        return self.features[self.row(client_id)]

    def feature_dict(self, client_id: int) -> dict[str, float | None]:
        return {
            name: (None if math.isnan(v) else v)
            for name, v in zip(
                self.feature_names, self.feature_row(client_id).tolist(), strict=True
            )
        }

    def search(self, digits: str, limit: int, offset: int) -> tuple[int, list[int]]:
        """Ids containing ``digits``, in file order."""
        if digits:
            mask = np.char.find(self._id_text, digits) >= 0
            matched = self.ids[mask]
        else:
            matched = self.ids
        return len(matched), [int(i) for i in matched[offset : offset + limit]]

    def raw_record(self, client_id: int, lang: Lang = "en") -> list[dict[str, Any]]:
        values = self.raw.iloc[self.row(client_id)]
        words = self._words[lang]
        ranges = plausibility()
        fields = []
        for c in self.columns:
            valid = ranges.column_range(c)
            fields.append(
                {
                    "name": c,
                    "label": words[c][0],
                    "value": _plain(values[c]),
                    "description": words[c][1],
                    "valid_min": valid.low if valid else None,
                    "valid_max": valid.high if valid else None,
                }
            )
        return fields

    def features_of(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Model features of (edited) raw rows of stored clients, their history included."""
        return self.base.features(raw)

    def raw_frame(self, client_id: int, changes: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """The client's raw row as a one-row table, with what-if ``changes`` applied."""
        frame = self.raw.iloc[[self.row(client_id)]].reset_index(drop=True)
        if changes:
            unknown = [c for c in changes if c not in self.columns or c == ID]
            if unknown:
                raise UnknownColumnError(unknown)
            for column, value in changes.items():
                frame[column] = _cell(column, frame[column], value)
            # an absurd what-if value is refused naming the column and its valid range
            row = {str(k): v for k, v in frame.iloc[0].items()}
            plausibility().check_columns(row, only=list(changes))
        return frame

    # -- shared tables ---------------------------------------------------------------------
    def share(self, tables: SharedTables) -> None:
        """Read raw rows and the clients' history from the shared maps (the same values, in the
        same order: ``tables`` were written from this store); this store's copies are dropped."""
        if len(tables.applications) != len(self.raw) or not np.array_equal(
            tables.applications[ID].to_numpy(dtype=np.int64), self.ids
        ):
            raise ValueError("the shared tables hold other clients")
        self.raw = tables.applications
        self.base = replace(
            self.base, applications=tables.applications, aggregates=tables.aggregates
        )

    # -- batch cache -----------------------------------------------------------------------
    def attach(self, batch: BatchScores) -> None:
        """Install the precomputed scores; rows are re-mapped to this store's order once.

        When the cache holds this store's feature matrix in the same order (it does when it was
        built from it), the store serves features from the cache's shared map and frees its own
        copy: the values are the same numbers, bit for bit."""
        rows = batch.rows_of(self.ids)
        self._bodies = {}
        features = batch.features
        if (
            features is not None
            and features.shape == self.features.shape
            and np.array_equal(rows, np.arange(len(self.ids)))
            and np.array_equal(features, self.features, equal_nan=True)
        ):
            self.features = features
        self._batch_rows = rows
        self.batch = batch

    def cached_body(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        """The response body under ``key`` (served from the batch cache), built once."""
        body = self._bodies.get(key)
        if body is None:
            body = build()
            if len(self._bodies) >= BODY_CACHE_MAX:
                self._bodies.clear()  # bounded memory; refills with what is asked for
            self._bodies[key] = body
        return body

    def cached_explanation(self, model: ScoringModel, client_id: int) -> Explanation | None:
        """The client's explanation from the batch cache, or None while it is warming.

        The raw score is recomputed as base value + sum of the stored contributions, so
        additivity holds exactly for what is served."""
        row = self.cached_row(client_id)
        if row is None or self.batch is None:
            return None
        return model.explanation_from(
            self.feature_row(client_id), self.batch.shap[row], float(self.batch.base_value)
        )

    def cached_row(self, client_id: int) -> int | None:
        """Row of the client in the batch cache, or None while the cache is warming."""
        if self.batch is None or self._batch_rows is None:
            return None
        row = int(self._batch_rows[self.row(client_id)])
        return row if row >= 0 else None


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(name: str, column: pd.Series, value: Any) -> pd.Series:
    """A one-row column holding ``value``, typed like the raw column it replaces."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        if isinstance(value, str):
            raise InvalidFeatureValueError(name, "must be a number or null")
        return pd.Series([np.nan if value is None else float(value)], dtype="float64")
    if value is not None and not isinstance(value, str):
        raise InvalidFeatureValueError(name, "must be text or null")
    return pd.Series([value], dtype=column.dtype)
