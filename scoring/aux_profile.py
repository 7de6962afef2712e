"""Aggregate profile of the real auxiliary Home Credit tables, for the generated demo history.

Like ``scoring.profile`` for the application tables: the real ``aux_sample`` folder (heads of
Kaggle's bureau, bureau_balance, previous_application and credit_card_balance) is distilled into
aggregates only: column order and dtypes, missing rates, category frequencies, quantile
functions, the share of the 365243 "no date" sentinel in each DAYS_* column, and a few ratios.
``scoring.demo_aux`` samples from it. No row is stored.

Laws are kept per *cell* where a table's columns depend on a category: previous applications by
contract type x status (a refused application has a reject reason and no due dates, a cash loan
has no goods category), bureau credits by CREDIT_ACTIVE (a closed credit has an end date and no
debt). A cell with fewer than ``MIN_CELL_ROWS`` rows keeps its share but borrows the laws of
the rows sharing its last category (a handful of rows is a record, not an aggregate); a law
within a cell with fewer than ``MIN_CELL_ROWS`` values defers to the whole table's.

Per-client counts are *not* profiled: the sample holds the first rows of each file, so only
bureau is grouped by client there. ``scoring.demo_aux`` takes them from the full Kaggle tables.

Regenerate with ``python -m scoring profile --aux DIR --out FILE``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from scoring.data import find_table_files, read_table
from scoring.errors import DataValidationError
from scoring.profile import (
    dtype_name,
    frequencies,
    is_categorical,
    missing_groups,
    numeric_stats,
    round_sig,
)
from scoring.schema import NO_DATE

SENTINEL = NO_DATE  # Kaggle's "no date" in DAYS_* columns (e.g. a previous loan still running)
MIN_CELL_ROWS = 30
# Coarser than the application profile's grid: the aux sample is smaller and cut into cells.
QUANTILE_LEVELS: tuple[float, ...] = (0, 1, 5, 10, 25, 40, 50, 60, 75, 90, 95, 99, 100)
MAX_DISCRETE = 20  # numeric columns with more distinct values get a quantile function
MIN_VALUE_COUNT = 5  # nor is a value seen fewer times listed: quantiles interpolate the tail
ZERO_MASS = 0.05  # a share of exact zeros kept apart from a quantile law
PROFILED_TABLES = ("bureau", "bureau_balance", "previous_application", "credit_card_balance")
CELL_COLUMNS: dict[str, list[str]] = {
    "bureau": ["CREDIT_ACTIVE"],
    "previous_application": ["NAME_CONTRACT_TYPE", "NAME_CONTRACT_STATUS"],
}
KEY_COLUMNS = frozenset({"SK_ID_CURR", "SK_ID_BUREAU", "SK_ID_PREV"})


def _stats(values: pd.Series) -> dict[str, Any]:
    """A numeric law on the aux grid: value frequencies only when every value is common.

    A quantile law with a point mass at 0 (no overdue, no debt, no drawing: most rows) keeps it
    as `zero_rate`, its other keys then describing the non-zero values: interpolating between a
    grid point at 0 and the next would smear the mass into small made-up values.
    """
    common = values.value_counts().min() >= MIN_VALUE_COUNT
    stats = numeric_stats(values, QUANTILE_LEVELS, MAX_DISCRETE if common else 0)
    zeros = values == 0
    if "values" in stats or zeros.mean() < ZERO_MASS or (~zeros).sum() < MIN_VALUE_COUNT:
        return stats
    return {
        **numeric_stats(values[~zeros], QUANTILE_LEVELS, 0),
        "zero_rate": round_sig(float(zeros.mean()), 4),
    }


def column_law(series: pd.Series, min_values: int = 1) -> dict[str, Any]:
    """Missing rate, sentinel share (DAYS_*) and the law of the other values of one column;
    the law of the values only when at least `min_values` of them are present."""
    law: dict[str, Any] = {"missing_rate": round_sig(float(series.isna().mean()), 4)}
    present = series.dropna()
    if is_categorical(series):
        if len(present) >= min_values:
            law["levels"] = frequencies(present)
        return law
    present = present.astype(float)
    if str(series.name).startswith("DAYS_"):
        sentinel = present == SENTINEL
        if sentinel.any():
            law["sentinel_rate"] = round_sig(float(sentinel.mean()), 4)
        present = present[~sentinel]
    if len(present) >= max(min_values, 1):
        law.update(_stats(present))
    return law


def _laws(frame: pd.DataFrame, min_values: int = 1) -> dict[str, dict[str, Any]]:
    return {
        name: column_law(frame[name], min_values)
        for name in frame.columns
        if name not in KEY_COLUMNS
    }


def cell_laws(frame: pd.DataFrame, by: list[str]) -> dict[str, Any]:
    """Share of each combination of the `by` categories, with its own laws when large enough.

    A small cell borrows the laws of all rows sharing its last category (a cancelled consumer
    loan is drawn like the other cancelled applications), or, if those are few too, none.
    """
    cells = []
    for key, part in frame.groupby(by, sort=True, dropna=False):
        keys = key if isinstance(key, tuple) else (key,)
        cell: dict[str, Any] = {
            "key": [str(k) for k in keys],
            "share": round_sig(len(part) / len(frame), 4),
        }
        last = frame[by[-1]] == keys[-1]
        if len(part) >= MIN_CELL_ROWS:
            source = part
        elif len(by) > 1 and last.sum() >= MIN_CELL_ROWS:
            source = frame[last]
            cell["laws_from"] = f"{by[-1]}={keys[-1]}"
        else:
            source = None
        if source is not None:
            # A value law from a handful of values would be a record: the table's law is used.
            cell["laws"] = _laws(source.drop(columns=by), MIN_CELL_ROWS)
        cells.append(cell)
    return {"by": by, "cells": cells}


def _ratio(numerator: pd.Series, denominator: pd.Series) -> dict[str, Any]:
    """Quantile law of numerator / denominator where both are positive."""
    keep = (numerator > 0) & (denominator > 0)
    return _stats((numerator[keep] / denominator[keep]).astype(float))


def _ratios(table: str, frame: pd.DataFrame) -> dict[str, Any]:
    """The few links between columns that the generator keeps (amounts, terms, dates)."""
    if table == "bureau":
        active = frame[frame["CREDIT_ACTIVE"] == "Active"]
        return {
            "debt_to_credit_active": _ratio(active["AMT_CREDIT_SUM_DEBT"], active["AMT_CREDIT_SUM"])
        }
    if table == "previous_application":
        due = frame["DAYS_FIRST_DUE"].where(frame["DAYS_FIRST_DUE"] != SENTINEL)
        return {
            "credit_to_application": _ratio(frame["AMT_CREDIT"], frame["AMT_APPLICATION"]),
            "repaid_to_credit": _ratio(
                frame["AMT_ANNUITY"] * frame["CNT_PAYMENT"], frame["AMT_CREDIT"]
            ),
            "first_due_after_decision": _stats(due - frame["DAYS_DECISION"]),
        }
    if table == "credit_card_balance":
        limit = frame["AMT_CREDIT_LIMIT_ACTUAL"]
        return {"utilisation": _stats((frame["AMT_BALANCE"] / limit)[limit > 0])}
    return {}


def table_profile(table: str, frame: pd.DataFrame) -> dict[str, Any]:
    """One auxiliary table's entry: schema, id ranges, laws, cells, missing groups, ratios."""
    entry: dict[str, Any] = {
        "rows": len(frame),
        "columns": [
            {
                "name": name,
                "dtype": dtype_name(frame[name]),
                "kind": "categorical" if is_categorical(frame[name]) else "numeric",
            }
            for name in frame.columns
        ],
        "id_ranges": {
            name: [int(frame[name].min()), int(frame[name].max())]
            for name in frame.columns
            if name in KEY_COLUMNS and name != "SK_ID_CURR"
        },
        "laws": _laws(frame),
        "missing_groups": missing_groups(frame),
    }
    if table in CELL_COLUMNS:
        entry["cells"] = cell_laws(frame, CELL_COLUMNS[table])
    ratios = _ratios(table, frame)
    if ratios:
        entry["ratios"] = ratios
    return entry


def build_aux_profile(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Aggregate profile of the real auxiliary tables (see the module docstring)."""
    return {
        "format": 1,
        "source": {
            "rows": {name: len(frame) for name, frame in sorted(tables.items())},
            "note": "aggregates of the first rows of Kaggle's auxiliary tables; no rows",
        },
        "sentinel": SENTINEL,
        "quantile_levels": list(QUANTILE_LEVELS),
        "tables": {name: table_profile(name, tables[name]) for name in PROFILED_TABLES},
    }


def write_aux_profile(aux_dir: Path, out_path: Path) -> Path:
    """Rebuild the auxiliary profile JSON from the real aux_sample folder (CLI entry point)."""
    aux_dir = Path(aux_dir)
    if not aux_dir.is_dir():
        raise DataValidationError(str(aux_dir), None, "auxiliary sample folder not found")
    files = find_table_files(aux_dir)
    absent = [name for name in PROFILED_TABLES if name not in files]
    if absent:
        raise DataValidationError(str(aux_dir), None, f"no {absent[0]} table in the folder")
    tables = {name: read_table(files[name]) for name in PROFILED_TABLES}
    profile = build_aux_profile(tables)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(profile, ensure_ascii=False, separators=(",", ":"))
    out_path.write_text(text + "\n", encoding="utf-8")
    return out_path
