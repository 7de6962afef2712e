"""Demo bureau and bureau_balance: the clients' credits at other lenders, month by month.

Shares and counts follow the full Kaggle tables (bureau: 1,716,428 credits of 305,811 of the
356,255 clients; bureau_balance: months of about 45 % of those credits); the columns follow the
aux profile's laws by CREDIT_ACTIVE. A riskier client (higher credit behaviour) has more active
credits, more debt left on them, more overdue days and amounts, and more late months.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scoring.demo_tables import (
    History,
    draw_cells,
    draw_columns,
    draw_history,
    expand,
    month_of,
    schema_of,
    sequential_ids,
    tilted_uniform,
    to_frame,
)
from scoring.sampling import from_frequencies, numeric_values

BUREAU_SHARE = 305_811 / 356_255  # clients with at least one credit bureau record
BUREAU_MEAN = 1_716_428 / 305_811  # credits per client who has any
BUREAU_MAX = 30  # Kaggle's tail goes to 116: capped, the demo stays small
BALANCE_SHARE = 0.45  # bureau credits with monthly balances in bureau_balance
MONTHS_KEPT = 12  # most recent months of balance per credit (Kaggle keeps up to 96)
LATE_STATUSES = ("1", "2", "3", "4", "5")

# Loadings of columns on the client's credit behaviour (see demo_tables.tilted_uniform).
ACTIVE_TILT = 0.35  # log-odds of an Active rather than Closed credit, per unit of behaviour
LOADINGS = {
    "CREDIT_DAY_OVERDUE": 0.6,
    "AMT_CREDIT_MAX_OVERDUE": 0.5,
    "CNT_CREDIT_PROLONG": 0.3,
}
DEBT_LOADING = 0.4
LATE_MONTH_LOADING = 0.6


def _coherent_days(values: dict[str, np.ndarray], missing: dict[str, np.ndarray]) -> None:
    """A credit ends after it starts; its facts and updates fall between its start and today."""
    start = values["DAYS_CREDIT"]
    end = values["DAYS_CREDIT_ENDDATE"]
    values["DAYS_CREDIT_ENDDATE"] = np.where(
        missing["DAYS_CREDIT_ENDDATE"], end, np.maximum(end, start + 30)
    )
    values["DAYS_ENDDATE_FACT"] = np.clip(values["DAYS_ENDDATE_FACT"], start, -1)
    values["DAYS_CREDIT_UPDATE"] = np.clip(values["DAYS_CREDIT_UPDATE"], start, 0)


def _amounts(
    table: dict[str, Any],
    values: dict[str, np.ndarray],
    active: np.ndarray,
    history: History,
    rng: np.random.Generator,
    levels: list[float],
) -> None:
    """Debt left on active credits (riskier: more), overdue amounts only on overdue credits."""
    credit = values["AMT_CREDIT_SUM"]
    u = tilted_uniform(history.behaviour, DEBT_LOADING, rng)
    share = numeric_values(u, table["ratios"]["debt_to_credit_active"], levels)
    debt = np.where(active, np.round(credit * share, 2), values["AMT_CREDIT_SUM_DEBT"])
    values["AMT_CREDIT_SUM_DEBT"] = debt
    overdue_days = np.where(active, values["CREDIT_DAY_OVERDUE"], 0.0)
    values["CREDIT_DAY_OVERDUE"] = overdue_days
    owed = np.where(np.nan_to_num(debt) > 0, debt, credit)
    part = rng.uniform(0.01, 0.2, size=credit.shape[0])
    values["AMT_CREDIT_SUM_OVERDUE"] = np.where(overdue_days > 0, np.round(owed * part, 2), 0.0)


def _open_status(
    table: dict[str, Any], behaviour: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Status of months while a credit is open: X (unknown), 0 (on time) or 1-5 (late)."""
    levels = dict(table["laws"]["STATUS"]["levels"])
    n = behaviour.shape[0]
    known = {k: v for k, v in levels.items() if k not in ("C", "X")}
    unknown = levels.get("X", 0.0) / (levels.get("X", 0.0) + sum(known.values()))
    ordered = [[k, known[k]] for k in ("0", *LATE_STATUSES) if k in known]  # worse = higher u
    status = from_frequencies(tilted_uniform(behaviour, LATE_MONTH_LOADING, rng), ordered)
    return np.where(rng.random(n) < unknown, "X", status).astype(object)


def _balance(
    bureau: pd.DataFrame, behaviour: np.ndarray, table: dict[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """Monthly statuses of some bureau credits (`behaviour`: their owners'): the last
    MONTHS_KEPT months up to the application (month 0), C once the credit is closed."""
    chosen = np.flatnonzero(rng.random(len(bureau)) < BALANCE_SHARE)
    opened = month_of(bureau["DAYS_CREDIT"].to_numpy()[chosen])
    closed_day = bureau["DAYS_ENDDATE_FACT"].to_numpy(dtype=float)[chosen]
    closed = np.where(np.isnan(closed_day), 1, month_of(np.nan_to_num(closed_day)))
    first = np.minimum(np.maximum(opened, 1 - MONTHS_KEPT), 0)
    credit, rank = expand(1 - first)
    month = first[credit] + rank
    status = _open_status(table, behaviour[chosen][credit], rng)
    values = {
        "SK_ID_BUREAU": bureau["SK_ID_BUREAU"].to_numpy()[chosen][credit],
        "MONTHS_BALANCE": month,
        "STATUS": np.where(month > closed[credit], "C", status).astype(object),
    }
    frame = to_frame(schema_of(table), values, {})
    return frame.sort_values(
        ["SK_ID_BUREAU", "MONTHS_BALANCE"], ascending=[True, False], ignore_index=True
    )


def generate_bureau(
    ids: np.ndarray, behaviour: np.ndarray, profile: dict[str, Any], rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """bureau and bureau_balance rows of the given clients (SK_ID_CURR and credit behaviour),
    in Kaggle's schema."""
    table = profile["tables"]["bureau"]
    levels = profile["quantile_levels"]
    history = draw_history(
        behaviour, BUREAU_SHARE, BUREAU_MEAN, BUREAU_MAX, rng, presence_loading=-0.2
    )
    cells = draw_cells(table, history, {"Active": ACTIVE_TILT}, rng)
    values, missing = draw_columns(
        table, history, cells, LOADINGS, rng, levels, profile["sentinel"]
    )
    keys = [cell["key"][0] for cell in table["cells"]["cells"]]
    values["CREDIT_ACTIVE"] = np.asarray(keys, dtype=object)[cells]
    active = values["CREDIT_ACTIVE"] == "Active"
    _coherent_days(values, missing)
    _amounts(table, values, active, history, rng, levels)
    values["SK_ID_CURR"] = ids[history.owner]
    values["SK_ID_BUREAU"] = sequential_ids(
        table["id_ranges"]["SK_ID_BUREAU"][0], history.rows, rng
    )
    bureau = to_frame(schema_of(table), values, missing)
    balance = _balance(bureau, history.behaviour, profile["tables"]["bureau_balance"], rng)
    return bureau, balance
