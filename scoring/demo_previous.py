"""Demo previous_application: the clients' earlier applications at Home Credit.

Shares and counts follow the full Kaggle table (1,670,214 applications of 338,857 of the 356,255
clients); the columns follow the aux profile's laws by contract type x status, so a refused
application has a reject reason and no due dates, and a cash loan no goods category. Dates keep
Kaggle's conventions: days before the application, and 365243 where there is no date (a loan
still running has no last due date). A riskier client is refused more often and applies more.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scoring.demo_tables import (
    draw_cells,
    draw_columns,
    draw_history,
    random_ids,
    schema_of,
    to_frame,
)
from scoring.sampling import numeric_values

PREVIOUS_SHARE = 338_857 / 356_255  # clients with at least one previous application
PREVIOUS_MEAN = 1_670_214 / 338_857  # applications per client who has any
PREVIOUS_MAX = 25  # Kaggle's tail goes to 77: capped, the demo stays small
STATUS_TILTS = {"Refused": 0.6}  # log-odds per unit of credit behaviour
DAYS_PER_INSTALMENT = 30
EARLY_REPAYMENT = 0.3  # share of still-running loans repaid before their planned end


def _amounts(
    values: dict[str, np.ndarray],
    ratios: dict[str, Any],
    levels: list[float],
    rng: np.random.Generator,
) -> None:
    """Goods price = amount applied for; credit from it; annuity from credit and term."""
    n = len(values["AMT_APPLICATION"])
    application = values["AMT_APPLICATION"]
    values["AMT_GOODS_PRICE"] = application.copy()
    to_credit = numeric_values(rng.random(n), ratios["credit_to_application"], levels)
    drawn = values["AMT_CREDIT"]
    derive = (application > 0) & (drawn > 0)
    credit = np.where(derive, np.round(application * to_credit / 4.5) * 4.5, drawn)
    values["AMT_CREDIT"] = credit
    term = values["CNT_PAYMENT"]
    repaid = numeric_values(rng.random(n), ratios["repaid_to_credit"], levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        annuity = np.round(credit * repaid / term, 3)
    values["AMT_ANNUITY"] = np.where((term > 0) & (credit > 0), annuity, values["AMT_ANNUITY"])


def _due_dates(
    values: dict[str, np.ndarray],
    ratios: dict[str, Any],
    levels: list[float],
    sentinel: int,
    rng: np.random.Generator,
) -> None:
    """First drawing and due dates after the decision; the planned last due date from the term;
    365243 for a last due date not reached yet (the loan still runs) and its termination."""
    n = len(values["DAYS_DECISION"])
    decision = values["DAYS_DECISION"]
    gap = numeric_values(rng.random(n), ratios["first_due_after_decision"], levels)
    no_date = {
        name: values[name] == sentinel
        for name in (
            "DAYS_FIRST_DRAWING",
            "DAYS_FIRST_DUE",
            "DAYS_LAST_DUE_1ST_VERSION",
            "DAYS_LAST_DUE",
            "DAYS_TERMINATION",
        )
    }
    first_due = np.where(no_date["DAYS_FIRST_DUE"], sentinel, decision + gap)
    drawing = decision + np.floor(rng.random(n) * gap)
    values["DAYS_FIRST_DRAWING"] = np.where(no_date["DAYS_FIRST_DRAWING"], sentinel, drawing)
    values["DAYS_FIRST_DUE"] = first_due
    term = values["CNT_PAYMENT"]
    instalments = (term > 0) & ~no_date["DAYS_FIRST_DUE"]
    planned = first_due + DAYS_PER_INSTALMENT * (term - 1)
    running = instalments & (planned > 0)
    early = running & (rng.random(n) < EARLY_REPAYMENT) & (first_due < -1)
    repaid_on = first_due + np.floor(rng.random(n) * np.maximum(-1 - first_due, 0))
    last_due = np.where(running, np.where(early, repaid_on, sentinel), planned)
    termination = np.minimum(last_due + rng.integers(0, 8, size=n), -1)
    # Revolving credit (no term) keeps its drawn dates, ordered after the first due date.
    start = np.where(no_date["DAYS_FIRST_DUE"], decision, first_due)
    open_last_due = np.where(
        no_date["DAYS_LAST_DUE"], sentinel, np.clip(values["DAYS_LAST_DUE"], start, -1)
    )
    open_termination = np.where(
        no_date["DAYS_TERMINATION"], sentinel, np.clip(values["DAYS_TERMINATION"], start, -1)
    )
    values["DAYS_LAST_DUE_1ST_VERSION"] = np.where(
        instalments, planned, np.where(term > 0, sentinel, values["DAYS_LAST_DUE_1ST_VERSION"])
    )
    values["DAYS_LAST_DUE"] = np.where(instalments, last_due, open_last_due)
    values["DAYS_TERMINATION"] = np.where(
        instalments, np.where(last_due == sentinel, sentinel, termination), open_termination
    )


def generate_previous(
    ids: np.ndarray, behaviour: np.ndarray, profile: dict[str, Any], rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """previous_application rows of the given clients, Kaggle's schema, and the credit
    behaviour of each row's client (the balances of these loans lean on it)."""
    table = profile["tables"]["previous_application"]
    levels = profile["quantile_levels"]
    history = draw_history(
        behaviour,
        PREVIOUS_SHARE,
        PREVIOUS_MEAN,
        PREVIOUS_MAX,
        rng,
        presence_loading=-0.1,
        count_loading=0.15,
    )
    cells = draw_cells(table, history, STATUS_TILTS, rng)
    values, missing = draw_columns(table, history, cells, {}, rng, levels, profile["sentinel"])
    keys = np.asarray([cell["key"] for cell in table["cells"]["cells"]], dtype=object)
    for position, name in enumerate(table["cells"]["by"]):
        values[name] = keys[cells, position]
    _amounts(values, table["ratios"], levels, rng)
    _due_dates(values, table["ratios"], levels, profile["sentinel"], rng)
    values["SK_ID_CURR"] = ids[history.owner]
    values["SK_ID_PREV"] = random_ids(table["id_ranges"]["SK_ID_PREV"], history.rows, rng)
    return to_frame(schema_of(table), values, missing), history.behaviour
