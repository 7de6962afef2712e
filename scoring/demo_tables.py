"""Drawing the rows of one auxiliary demo table from its profile (``resources/aux_profile.json``).

The building blocks every auxiliary generator shares: who has history and how much, one row per
credit, each column from the law of its row's cell (or of the whole table), the table's missing
groups, the 365243 sentinel at its real rate, and a risk tilt: a column with a *loading* draws
its uniform from the client's credit behaviour (a standard normal, higher = riskier) mixed with
noise, so riskier clients sit higher in that column's real distribution.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from scoring.sampling import categorical_rows, from_frequencies, numeric_values

AUX_PROFILE_RESOURCE = "aux_profile.json"
DAYS_PER_MONTH = 30.4375


@cache
def load_aux_profile() -> dict[str, Any]:
    """The committed auxiliary profile, read once on first use (never at import time)."""
    text = resources.files("scoring").joinpath("resources", AUX_PROFILE_RESOURCE).read_text("utf-8")
    profile: dict[str, Any] = json.loads(text)
    return profile


@dataclass(frozen=True)
class History:
    """Clients with rows in one table: the owner of each row and that owner's behaviour."""

    owner: np.ndarray  # index of the client of each row, in client order
    behaviour: np.ndarray  # the owner's credit behaviour, one value per row

    @property
    def rows(self) -> int:
        return int(self.owner.shape[0])


def tilted_uniform(behaviour: np.ndarray, loading: float, rng: np.random.Generator) -> np.ndarray:
    """Uniforms that lean on behaviour: corr(probit(u), behaviour) = loading."""
    noise = rng.standard_normal(behaviour.shape[0])
    return np.asarray(ndtr(loading * behaviour + np.sqrt(1 - loading**2) * noise))


def draw_history(
    behaviour: np.ndarray,
    share: float,
    mean_count: float,
    max_count: int,
    rng: np.random.Generator,
    presence_loading: float = 0.0,
    count_loading: float = 0.0,
) -> History:
    """Who has rows (share of clients, tilted by behaviour) and how many (a long-tailed count).

    Counts are 1 + a gamma-Poisson draw with the real mean, capped to keep the demo small.
    """
    n = behaviour.shape[0]
    has = rng.random(n) < ndtr(ndtri(share) + presence_loading * behaviour)
    extra = max(mean_count - 1.0, 0.0)
    rate = rng.gamma(1.5, extra / 1.5, size=n) * np.exp(count_loading * behaviour)
    counts = np.where(has, np.minimum(1 + rng.poisson(rate), max_count), 0)
    owner = np.repeat(np.arange(n), counts)
    return History(owner=owner, behaviour=behaviour[owner])


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given sizes: the group of each expanded row and its rank in the group."""
    counts = np.asarray(counts, dtype=np.int64)
    group = np.repeat(np.arange(counts.shape[0]), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(group.shape[0]) - starts[group]
    return group, rank


def month_of(days: np.ndarray) -> np.ndarray:
    """MONTHS_BALANCE of a day relative to the application (day -1 is month -1)."""
    return np.floor(np.asarray(days, dtype=float) / DAYS_PER_MONTH).astype(np.int64)


def sequential_ids(first: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Increasing unique ids from `first`, with the small gaps of Kaggle's id sequences."""
    gaps = 1 + (rng.random(n) < 0.05) * rng.integers(1, 20, size=n)
    return first + np.cumsum(gaps) - gaps  # the first id is `first`


def random_ids(id_range: list[int], n: int, rng: np.random.Generator) -> np.ndarray:
    """Unique ids drawn over the real range (widened when more rows than ids are asked for)."""
    first, last = int(id_range[0]), int(id_range[1])
    span = max(last - first + 1, n)
    return first + rng.choice(span, size=n, replace=False).astype(np.int64)


def draw_cells(
    table: dict[str, Any], history: History, tilts: Mapping[str, float], rng: np.random.Generator
) -> np.ndarray:
    """The cell of each row: the real shares, with log-odds shifted by behaviour x tilt.

    `tilts` maps a level of one of the cell columns (e.g. "Refused") to its shift per unit of
    behaviour: a riskier client is refused more often.
    """
    cells = table["cells"]["cells"]
    shares = np.array([cell["share"] for cell in cells], dtype=float)
    slopes = np.array([sum(tilts.get(level, 0.0) for level in cell["key"]) for cell in cells])
    logits = np.log(shares)[None, :] + history.behaviour[:, None] * slopes[None, :]
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return categorical_rows(weights / weights.sum(axis=1, keepdims=True), rng)


def _law_of(table: dict[str, Any], cell: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """The cell's law of a column when the cell has one with values, else the table's."""
    table_law: dict[str, Any] = table["laws"][name]
    cell_law = (cell or {}).get("laws", {}).get(name)
    if cell_law is None:
        return table_law
    if any(key in cell_law for key in ("levels", "values", "quantiles")):
        return dict(cell_law)
    return {
        **table_law,
        "missing_rate": cell_law["missing_rate"],
        "sentinel_rate": cell_law.get("sentinel_rate", 0.0),
    }


def draw_columns(
    table: dict[str, Any],
    history: History,
    cell_index: np.ndarray | None,
    loadings: Mapping[str, float],
    rng: np.random.Generator,
    levels: list[float],
    sentinel: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every profiled column but the keys: values (object for categories, float otherwise) and
    missing masks, from the law of each row's cell; `loadings` tilt some columns by behaviour."""
    n = history.rows
    cells = table.get("cells", {}).get("cells") or [None]
    index = np.zeros(n, dtype=np.int64) if cell_index is None else cell_index
    masks = [index == c for c in range(len(cells))]
    shared: dict[str, np.ndarray] = {}
    for group in table["missing_groups"]:
        shared.update(dict.fromkeys(group, rng.random(n)))
    categorical = {c["name"] for c in table["columns"] if c["kind"] == "categorical"}
    values: dict[str, np.ndarray] = {}
    missing: dict[str, np.ndarray] = {}
    for name in table["laws"]:
        column = np.empty(n, dtype=object) if name in categorical else np.full(n, np.nan)
        gone = np.zeros(n, dtype=bool)
        u_missing = shared.get(name, rng.random(n))
        u = (
            tilted_uniform(history.behaviour, loadings[name], rng)
            if name in loadings
            else rng.random(n)
        )
        u_sentinel = rng.random(n)
        for cell, mask in zip(cells, masks, strict=True):
            if not mask.any():
                continue
            law = _law_of(table, cell, name)
            gone[mask] = u_missing[mask] < law["missing_rate"]
            if "levels" in law:
                column[mask] = from_frequencies(u[mask], law["levels"])
            elif "values" in law or "quantiles" in law:
                column[mask] = numeric_values(u[mask], law, levels)
                hit = mask & (u_sentinel < law.get("sentinel_rate", 0.0))
                column[hit] = sentinel
            else:
                gone[mask] = True  # the column never has a value in this cell
        values[name], missing[name] = column, gone
    return values, missing


def to_frame(
    schema: list[tuple[str, str]],
    values: Mapping[str, np.ndarray],
    missing: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """The table in Kaggle's column order and dtypes: int64, float64 or str (NaN for missing)."""
    columns: dict[str, pd.Series] = {}
    for name, dtype in schema:
        data = values[name]
        mask = missing.get(name)
        if dtype == "str":
            labels = np.asarray(data, dtype=object).copy()
            if mask is not None:
                labels[mask] = np.nan
            columns[name] = pd.Series(labels, dtype=object)
        elif dtype == "int64":
            if mask is not None and mask.any():
                raise ValueError(f"int64 column {name} cannot hold missing values")
            columns[name] = pd.Series(np.round(np.asarray(data, dtype=float)).astype(np.int64))
        else:
            numbers = np.asarray(data, dtype=np.float64).copy()
            if mask is not None:
                numbers[mask] = np.nan
            columns[name] = pd.Series(numbers)
    return pd.DataFrame(columns)


def schema_of(table: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, dtype) of a profiled table's columns, in Kaggle's order."""
    return [(col["name"], col["dtype"]) for col in table["columns"]]
