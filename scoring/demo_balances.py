"""Demo POS_CASH_balance, installments_payments and credit_card_balance: the monthly life of the
approved previous loans (``scoring.demo_previous``).

Instalment loans (cash and consumer) get POS_CASH_balance months and installments_payments rows,
revolving loans get credit_card_balance months, each bounded to its most recent MONTHS_KEPT
months so the demo stays small (Kaggle keeps up to 96). Column names, kinds and conventions are
Kaggle's: months before the application are negative (-1 is the latest), a paid instalment has
its payment day and amount, DPD counts days past due. There is no real sample of
POS_CASH_balance or installments_payments, so their laws are written here, with shares of the
full Kaggle tables; credit_card_balance follows the aux profile. Riskier clients (higher credit
behaviour) pay late more often, pay less than due more often, and use more of their card limit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from scoring.demo_tables import (
    History,
    draw_columns,
    expand,
    month_of,
    schema_of,
    tilted_uniform,
    to_frame,
)
from scoring.sampling import numeric_values

MONTHS_KEPT = 12  # most recent months (POS, cards) or instalments (payments) per loan
INSTALMENT_LOANS = ("Cash loans", "Consumer loans")
DAYS_PER_INSTALMENT = 30
LATE_LOADING = 0.6  # how strongly lateness follows the client's behaviour

POS_SCHEMA = [
    ("SK_ID_PREV", "int64"),
    ("SK_ID_CURR", "int64"),
    ("MONTHS_BALANCE", "int64"),
    ("CNT_INSTALMENT", "float64"),
    ("CNT_INSTALMENT_FUTURE", "float64"),
    ("NAME_CONTRACT_STATUS", "str"),
    ("SK_DPD", "int64"),
    ("SK_DPD_DEF", "int64"),
]
POS_LATE_SHARE = 0.03  # months with days past due in Kaggle's POS_CASH_balance
POS_TERM_MISSING = 0.0026  # months with no term recorded
DPD_TOLERATED = 0.15  # late months whose small debt the tolerant DPD (SK_DPD_DEF) ignores

INSTALMENT_SCHEMA = [
    ("SK_ID_PREV", "int64"),
    ("SK_ID_CURR", "int64"),
    ("NUM_INSTALMENT_VERSION", "float64"),
    ("NUM_INSTALMENT_NUMBER", "int64"),
    ("DAYS_INSTALMENT", "float64"),
    ("DAYS_ENTRY_PAYMENT", "float64"),
    ("AMT_INSTALMENT", "float64"),
    ("AMT_PAYMENT", "float64"),
]
INSTALMENT_LATE_SHARE = 0.08  # instalments paid after their due day
INSTALMENT_SHORT_SHARE = 0.05  # instalments paid less than due
INSTALMENT_UNPAID = 0.0002  # no payment recorded (day and amount missing)
RESCHEDULED = 0.07  # instalments on a second version of the calendar

CARD_LOADINGS = {"SK_DPD": 0.6, "SK_DPD_DEF": 0.6}
LIMIT_STEP = 4500  # card limits are round amounts (the limit law's own step)
UTILISATION_LOADING = 0.5  # client share of a month's utilisation (a card's own share: 0.5)


def _loans(previous: pd.DataFrame, behaviour: np.ndarray, sentinel: int) -> pd.DataFrame:
    """Approved previous loans with the dates their balances need (365243 read as no date)."""
    approved = previous["NAME_CONTRACT_STATUS"].to_numpy() == "Approved"
    loans = previous.loc[
        approved,
        [
            "SK_ID_PREV",
            "SK_ID_CURR",
            "NAME_CONTRACT_TYPE",
            "AMT_ANNUITY",
            "AMT_CREDIT",
            "CNT_PAYMENT",
            "DAYS_DECISION",
            "DAYS_FIRST_DUE",
            "DAYS_LAST_DUE",
            "DAYS_LAST_DUE_1ST_VERSION",
        ],
    ].reset_index(drop=True)
    for name in ("DAYS_FIRST_DUE", "DAYS_LAST_DUE", "DAYS_LAST_DUE_1ST_VERSION"):
        loans[name] = loans[name].where(loans[name] != sentinel)
    loans["behaviour"] = behaviour[approved]
    return loans


def _late_days(late: np.ndarray, mean_days: float, rng: np.random.Generator) -> np.ndarray:
    """Days past due: a long-tailed count with the given mean where late, else 0."""
    return np.where(late, rng.geometric(1.0 / mean_days, size=late.shape[0]), 0)


def generate_pos(loans: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly POS / cash loan balances, from the first due month to the end or month -1."""
    loans = loans[
        loans["NAME_CONTRACT_TYPE"].isin(INSTALMENT_LOANS)
        & loans["DAYS_FIRST_DUE"].notna()
        & (loans["CNT_PAYMENT"] > 0)
    ]
    term = loans["CNT_PAYMENT"].to_numpy()
    start = month_of(loans["DAYS_FIRST_DUE"].to_numpy())
    end_day = loans["DAYS_LAST_DUE"].fillna(loans["DAYS_LAST_DUE_1ST_VERSION"]).to_numpy()
    end = np.minimum(month_of(end_day), -1)
    first = np.maximum(start, end - (MONTHS_KEPT - 1))
    loan, rank = expand(np.maximum(end - first + 1, 0))
    month = first[loan] + rank
    future = np.maximum(term[loan] - (month - start[loan]) - 1, 0)
    n = month.shape[0]
    u = tilted_uniform(loans["behaviour"].to_numpy()[loan], LATE_LOADING, rng)
    dpd = _late_days(u > 1 - POS_LATE_SHARE, 12.0, rng)
    no_term = rng.random(n) < POS_TERM_MISSING
    values = {
        "SK_ID_PREV": loans["SK_ID_PREV"].to_numpy()[loan],
        "SK_ID_CURR": loans["SK_ID_CURR"].to_numpy()[loan],
        "MONTHS_BALANCE": month,
        "CNT_INSTALMENT": term[loan],
        "CNT_INSTALMENT_FUTURE": future.astype(float),
        "NAME_CONTRACT_STATUS": np.where(future == 0, "Completed", "Active").astype(object),
        "SK_DPD": dpd,
        "SK_DPD_DEF": np.where(rng.random(n) < DPD_TOLERATED, 0, dpd),
    }
    missing = {"CNT_INSTALMENT": no_term, "CNT_INSTALMENT_FUTURE": no_term}
    return to_frame(POS_SCHEMA, values, missing)


def generate_installments(loans: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per instalment due before the application (the last MONTHS_KEPT of each loan):
    due day and amount, and the day and amount actually paid."""
    loans = loans[
        loans["NAME_CONTRACT_TYPE"].isin(INSTALMENT_LOANS)
        & loans["DAYS_FIRST_DUE"].notna()
        & (loans["CNT_PAYMENT"] > 0)
        & loans["AMT_ANNUITY"].notna()
    ]
    first_due = loans["DAYS_FIRST_DUE"].to_numpy()
    limit = np.minimum(loans["DAYS_LAST_DUE"].fillna(-1).to_numpy(), -1)
    due_count = np.floor((limit - first_due) / DAYS_PER_INSTALMENT).astype(np.int64) + 1
    due_count = np.clip(due_count, 0, loans["CNT_PAYMENT"].to_numpy().astype(np.int64))
    first_number = np.maximum(due_count - (MONTHS_KEPT - 1), 1)
    loan, rank = expand(np.maximum(due_count - first_number + 1, 0))
    number = first_number[loan] + rank
    due = first_due[loan] + DAYS_PER_INSTALMENT * (number - 1)
    n = number.shape[0]
    behaviour = loans["behaviour"].to_numpy()[loan]
    late = tilted_uniform(behaviour, LATE_LOADING, rng) > 1 - INSTALMENT_LATE_SHARE
    paid_on = np.where(late, due + _late_days(late, 10.0, rng), due - rng.integers(0, 15, n))
    amount = loans["AMT_ANNUITY"].to_numpy()[loan]
    short = tilted_uniform(behaviour, LATE_LOADING, rng) > 1 - INSTALMENT_SHORT_SHARE
    paid = np.where(short, np.round(amount * rng.uniform(0.05, 0.95, n), 3), amount)
    unpaid = rng.random(n) < INSTALMENT_UNPAID
    values = {
        "SK_ID_PREV": loans["SK_ID_PREV"].to_numpy()[loan],
        "SK_ID_CURR": loans["SK_ID_CURR"].to_numpy()[loan],
        "NUM_INSTALMENT_VERSION": np.where(rng.random(n) < RESCHEDULED, 2.0, 1.0),
        "NUM_INSTALMENT_NUMBER": number,
        "DAYS_INSTALMENT": due.astype(float),
        "DAYS_ENTRY_PAYMENT": np.minimum(paid_on, -1).astype(float),
        "AMT_INSTALMENT": amount,
        "AMT_PAYMENT": paid,
    }
    missing = {"DAYS_ENTRY_PAYMENT": unpaid, "AMT_PAYMENT": unpaid}
    return to_frame(INSTALMENT_SCHEMA, values, missing)


def _card_amounts(values: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    """Receivables follow the balance; drawings split between ATM and goods; counts follow."""
    balance = values["AMT_BALANCE"]
    n = balance.shape[0]
    values["AMT_RECEIVABLE_PRINCIPAL"] = np.round(balance * rng.uniform(0.9, 1.0, n), 3)
    values["AMT_RECIVABLE"] = balance
    values["AMT_TOTAL_RECEIVABLE"] = balance
    values["AMT_INST_MIN_REGULARITY"] = np.round(0.05 * balance, 3)
    drawings = values["AMT_DRAWINGS_CURRENT"]
    atm_share = rng.choice([0.0, 1.0, 0.5], size=n, p=[0.5, 0.3, 0.2])
    atm = np.round(drawings * atm_share, 2)
    values["AMT_DRAWINGS_ATM_CURRENT"] = atm
    values["AMT_DRAWINGS_POS_CURRENT"] = np.round(drawings - atm, 2)
    values["AMT_DRAWINGS_OTHER_CURRENT"] = np.zeros(n)
    for kind, amount in (("ATM", atm), ("POS", drawings - atm)):
        name = f"CNT_DRAWINGS_{kind}_CURRENT"
        values[name] = np.where(amount > 0, np.maximum(values[name], 1), 0.0)
    values["CNT_DRAWINGS_OTHER_CURRENT"] = np.zeros(n)
    values["CNT_DRAWINGS_CURRENT"] = (
        values["CNT_DRAWINGS_ATM_CURRENT"] + values["CNT_DRAWINGS_POS_CURRENT"]
    )
    values["AMT_PAYMENT_CURRENT"] = values["AMT_PAYMENT_TOTAL_CURRENT"]


def generate_cards(
    loans: pd.DataFrame, profile: dict[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """Monthly credit card balances of the approved revolving loans."""
    table = profile["tables"]["credit_card_balance"]
    levels = profile["quantile_levels"]
    cards = loans[loans["NAME_CONTRACT_TYPE"] == "Revolving loans"]
    start = month_of(cards["DAYS_DECISION"].to_numpy())
    closed_day = cards["DAYS_LAST_DUE"].to_numpy()
    end = np.where(np.isnan(closed_day), -1, np.minimum(month_of(np.nan_to_num(closed_day)), -1))
    first = np.maximum(start, end - (MONTHS_KEPT - 1))
    card, rank = expand(np.maximum(end - first + 1, 0))
    month = first[card] + rank
    behaviour = cards["behaviour"].to_numpy()
    history = History(owner=card, behaviour=behaviour[card])
    values, missing = draw_columns(
        table, history, None, CARD_LOADINGS, rng, levels, profile["sentinel"]
    )
    n = month.shape[0]
    drawn_limit = numeric_values(
        rng.random(len(cards)), table["laws"]["AMT_CREDIT_LIMIT_ACTUAL"], levels
    )
    credit = np.round(cards["AMT_CREDIT"].to_numpy() / LIMIT_STEP) * LIMIT_STEP
    limit = np.where(credit > 0, credit, drawn_limit)[card]
    own = rng.standard_normal(len(cards))[card]
    # Client, card and month shares of a standard normal: 0.5^2 + 0.5^2 + 0.5 = 1.
    mixed = UTILISATION_LOADING * (behaviour[card] + own) + np.sqrt(0.5) * rng.standard_normal(n)
    utilisation = numeric_values(ndtr(mixed), table["ratios"]["utilisation"], levels)
    values["AMT_BALANCE"] = np.round(utilisation * limit, 3)
    values["AMT_CREDIT_LIMIT_ACTUAL"] = limit
    _card_amounts(values, rng)
    dpd = values["SK_DPD"]
    values["SK_DPD_DEF"] = np.minimum(values["SK_DPD_DEF"], dpd)
    values["CNT_INSTALMENT_MATURE_CUM"] = (month - start[card]).astype(float)
    closing = ~np.isnan(closed_day[card]) & (month == end[card])
    values["NAME_CONTRACT_STATUS"] = np.where(closing, "Completed", "Active").astype(object)
    values["SK_ID_PREV"] = cards["SK_ID_PREV"].to_numpy()[card]
    values["SK_ID_CURR"] = cards["SK_ID_CURR"].to_numpy()[card]
    values["MONTHS_BALANCE"] = month
    return to_frame(schema_of(table), values, missing)


def generate_balances(
    previous: pd.DataFrame,
    behaviour: np.ndarray,
    profile: dict[str, Any],
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """The three monthly tables of the approved loans in `previous` (behaviour: per row)."""
    loans = _loans(previous, behaviour, int(profile["sentinel"]))
    return {
        "POS_CASH_balance": generate_pos(loans, rng),
        "installments_payments": generate_installments(loans, rng),
        "credit_card_balance": generate_cards(loans, profile, rng),
    }
