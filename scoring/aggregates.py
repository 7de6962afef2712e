"""Per-client aggregates of the optional auxiliary tables (bureau, previous applications, ...).

Each aggregator returns a frame indexed by SK_ID_CURR with a fixed list of columns, also when
its table is absent (then with no rows), so that a model trained with a table still receives
the same feature names, with missing values, when the table is not supplied at scoring time.
Day counts read through `_days`: Kaggle's 365243 "no date" is a missing date, never a day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from scoring.schema import ID, NO_DATE

Tables = Mapping[str, pd.DataFrame]
Aggregator = Callable[[pd.DataFrame | None, Tables], pd.DataFrame]


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    """A numeric column, or all-missing when the extract lacks it (tables vary between dumps)."""
    if name not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[name], errors="coerce").astype("float64")


def _days(frame: pd.DataFrame, name: str) -> pd.Series:
    """A DAYS_* column, with the 365243 placeholder read as missing (it is 1,000 years ahead)."""
    days = _col(frame, name)
    return days.where(days != NO_DATE)


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        columns=columns, index=pd.Index([], name=ID, dtype="int64"), dtype="float64"
    )


def _finish(grouped: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    grouped = grouped.replace([np.inf, -np.inf], np.nan)
    grouped.index = grouped.index.astype("int64")
    grouped.index.name = ID
    return grouped.reindex(columns=columns).astype("float64")


BUREAU_COLUMNS = [
    "BUREAU_LOAN_COUNT",
    "BUREAU_ACTIVE_COUNT",
    "BUREAU_DAYS_CREDIT_MEAN",
    "BUREAU_CREDIT_SUM",
    "BUREAU_DEBT_SUM",
    "BUREAU_DEBT_CREDIT_RATIO",
    "BUREAU_OVERDUE_SUM",
    "BUREAU_MAX_DAYS_OVERDUE",
    "BUREAU_LATE_MONTH_SHARE",
]


def _bureau_late_share(balance: pd.DataFrame | None) -> pd.Series | None:
    """Share of bureau_balance months with a payment late (STATUS 1-5), per bureau credit."""
    if balance is None or balance.empty:
        return None
    late = balance["STATUS"].astype(str).isin(["1", "2", "3", "4", "5"]).astype("float64")
    return late.groupby(balance["SK_ID_BUREAU"]).mean()


def aggregate_bureau(bureau: pd.DataFrame | None, tables: Tables) -> pd.DataFrame:
    if bureau is None or bureau.empty:
        return _empty(BUREAU_COLUMNS)
    frame = pd.DataFrame(
        {
            ID: bureau[ID].to_numpy(),
            "active": (bureau.get("CREDIT_ACTIVE", pd.Series(index=bureau.index)) == "Active")
            .astype("float64")
            .to_numpy(),
            "days": _days(bureau, "DAYS_CREDIT").to_numpy(),
            "credit": _col(bureau, "AMT_CREDIT_SUM").to_numpy(),
            "debt": _col(bureau, "AMT_CREDIT_SUM_DEBT").to_numpy(),
            "overdue": _col(bureau, "AMT_CREDIT_SUM_OVERDUE").to_numpy(),
            "overdue_days": _col(bureau, "CREDIT_DAY_OVERDUE").to_numpy(),
        }
    )
    late = _bureau_late_share(tables.get("bureau_balance"))
    frame["late"] = (
        bureau["SK_ID_BUREAU"].map(late).to_numpy(dtype="float64") if late is not None else np.nan
    )
    grouped = frame.groupby(ID)
    out = pd.DataFrame(
        {
            "BUREAU_LOAN_COUNT": grouped.size(),
            "BUREAU_ACTIVE_COUNT": grouped["active"].sum(),
            "BUREAU_DAYS_CREDIT_MEAN": grouped["days"].mean(),
            "BUREAU_CREDIT_SUM": grouped["credit"].sum(min_count=1),
            "BUREAU_DEBT_SUM": grouped["debt"].sum(min_count=1),
            "BUREAU_OVERDUE_SUM": grouped["overdue"].sum(min_count=1),
            "BUREAU_MAX_DAYS_OVERDUE": grouped["overdue_days"].max(),
            "BUREAU_LATE_MONTH_SHARE": grouped["late"].mean(),
        }
    )
    out["BUREAU_DEBT_CREDIT_RATIO"] = out["BUREAU_DEBT_SUM"] / out["BUREAU_CREDIT_SUM"]
    return _finish(out, BUREAU_COLUMNS)


PREVIOUS_COLUMNS = [
    "PREV_COUNT",
    "PREV_APPROVED_SHARE",
    "PREV_REFUSED_SHARE",
    "PREV_AMT_APPLICATION_MEAN",
    "PREV_CREDIT_APPLICATION_RATIO",
    "PREV_DAYS_DECISION_MEAN",
]


def aggregate_previous(previous: pd.DataFrame | None, tables: Tables) -> pd.DataFrame:
    if previous is None or previous.empty:
        return _empty(PREVIOUS_COLUMNS)
    status = previous.get("NAME_CONTRACT_STATUS", pd.Series(index=previous.index))
    frame = pd.DataFrame(
        {
            ID: previous[ID].to_numpy(),
            "approved": (status == "Approved").astype("float64").to_numpy(),
            "refused": (status == "Refused").astype("float64").to_numpy(),
            "application": _col(previous, "AMT_APPLICATION").to_numpy(),
            "credit": _col(previous, "AMT_CREDIT").to_numpy(),
            "days": _days(previous, "DAYS_DECISION").to_numpy(),
        }
    )
    grouped = frame.groupby(ID)
    out = pd.DataFrame(
        {
            "PREV_COUNT": grouped.size(),
            "PREV_APPROVED_SHARE": grouped["approved"].mean(),
            "PREV_REFUSED_SHARE": grouped["refused"].mean(),
            "PREV_AMT_APPLICATION_MEAN": grouped["application"].mean(),
            "PREV_CREDIT_APPLICATION_RATIO": grouped["credit"].sum(min_count=1)
            / grouped["application"].sum(min_count=1),
            "PREV_DAYS_DECISION_MEAN": grouped["days"].mean(),
        }
    )
    return _finish(out, PREVIOUS_COLUMNS)


POS_COLUMNS = ["POS_MONTHS", "POS_DPD_MEAN", "POS_DPD_MAX"]


def aggregate_pos(pos: pd.DataFrame | None, tables: Tables) -> pd.DataFrame:
    if pos is None or pos.empty:
        return _empty(POS_COLUMNS)
    frame = pd.DataFrame({ID: pos[ID].to_numpy(), "dpd": _col(pos, "SK_DPD").to_numpy()})
    grouped = frame.groupby(ID)["dpd"]
    out = pd.DataFrame(
        {"POS_MONTHS": grouped.size(), "POS_DPD_MEAN": grouped.mean(), "POS_DPD_MAX": grouped.max()}
    )
    return _finish(out, POS_COLUMNS)


INSTALLMENT_COLUMNS = [
    "INST_COUNT",
    "INST_LATE_SHARE",
    "INST_DAYS_LATE_MEAN",
    "INST_PAID_RATIO",
]


def aggregate_installments(inst: pd.DataFrame | None, tables: Tables) -> pd.DataFrame:
    if inst is None or inst.empty:
        return _empty(INSTALLMENT_COLUMNS)
    days_late = (_days(inst, "DAYS_ENTRY_PAYMENT") - _days(inst, "DAYS_INSTALMENT")).clip(lower=0)
    frame = pd.DataFrame(
        {
            ID: inst[ID].to_numpy(),
            "late": (days_late > 0).astype("float64").to_numpy(),
            "days_late": days_late.to_numpy(),
            "paid": _col(inst, "AMT_PAYMENT").to_numpy(),
            "due": _col(inst, "AMT_INSTALMENT").to_numpy(),
        }
    )
    grouped = frame.groupby(ID)
    out = pd.DataFrame(
        {
            "INST_COUNT": grouped.size(),
            "INST_LATE_SHARE": grouped["late"].mean(),
            "INST_DAYS_LATE_MEAN": grouped["days_late"].mean(),
            "INST_PAID_RATIO": grouped["paid"].sum(min_count=1) / grouped["due"].sum(min_count=1),
        }
    )
    return _finish(out, INSTALLMENT_COLUMNS)


CARD_COLUMNS = ["CC_MONTHS", "CC_UTILISATION_MEAN", "CC_DPD_MAX"]


def aggregate_cards(cards: pd.DataFrame | None, tables: Tables) -> pd.DataFrame:
    if cards is None or cards.empty:
        return _empty(CARD_COLUMNS)
    limit = _col(cards, "AMT_CREDIT_LIMIT_ACTUAL").replace(0, np.nan)
    frame = pd.DataFrame(
        {
            ID: cards[ID].to_numpy(),
            "utilisation": (_col(cards, "AMT_BALANCE") / limit).to_numpy(),
            "dpd": _col(cards, "SK_DPD").to_numpy(),
        }
    )
    grouped = frame.groupby(ID)
    out = pd.DataFrame(
        {
            "CC_MONTHS": grouped.size(),
            "CC_UTILISATION_MEAN": grouped["utilisation"].mean(),
            "CC_DPD_MAX": grouped["dpd"].max(),
        }
    )
    return _finish(out, CARD_COLUMNS)


AGGREGATORS: dict[str, Aggregator] = {
    "bureau": aggregate_bureau,
    "previous_application": aggregate_previous,
    "POS_CASH_balance": aggregate_pos,
    "installments_payments": aggregate_installments,
    "credit_card_balance": aggregate_cards,
}

_SOURCES: dict[str, tuple[list[str], list[str]]] = {
    "bureau": (
        BUREAU_COLUMNS,
        [
            "bureau.CREDIT_ACTIVE",
            "bureau.DAYS_CREDIT",
            "bureau.AMT_CREDIT_SUM",
            "bureau.AMT_CREDIT_SUM_DEBT",
            "bureau.AMT_CREDIT_SUM_OVERDUE",
            "bureau.CREDIT_DAY_OVERDUE",
            "bureau_balance.STATUS",
        ],
    ),
    "previous_application": (
        PREVIOUS_COLUMNS,
        [
            "previous_application.NAME_CONTRACT_STATUS",
            "previous_application.AMT_APPLICATION",
            "previous_application.AMT_CREDIT",
            "previous_application.DAYS_DECISION",
        ],
    ),
    "POS_CASH_balance": (POS_COLUMNS, ["POS_CASH_balance.SK_DPD"]),
    "installments_payments": (
        INSTALLMENT_COLUMNS,
        [
            "installments_payments.DAYS_ENTRY_PAYMENT",
            "installments_payments.DAYS_INSTALMENT",
            "installments_payments.AMT_PAYMENT",
            "installments_payments.AMT_INSTALMENT",
        ],
    ),
    "credit_card_balance": (
        CARD_COLUMNS,
        [
            "credit_card_balance.AMT_BALANCE",
            "credit_card_balance.AMT_CREDIT_LIMIT_ACTUAL",
            "credit_card_balance.SK_DPD",
        ],
    ),
}


def aggregate_sources(tables: list[str]) -> dict[str, list[str]]:
    """feature -> the auxiliary columns it is computed from, for the tables in use."""
    out: dict[str, list[str]] = {}
    for table in tables:
        names, sources = _SOURCES[table]
        out.update(dict.fromkeys(names, sources))
    return out
