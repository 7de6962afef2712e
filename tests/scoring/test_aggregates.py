"""Auxiliary aggregates on small hand-made tables, each value worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scoring.aggregates import (
    AGGREGATORS,
    BUREAU_COLUMNS,
    CARD_COLUMNS,
    INSTALLMENT_COLUMNS,
    POS_COLUMNS,
    PREVIOUS_COLUMNS,
    aggregate_bureau,
    aggregate_cards,
    aggregate_installments,
    aggregate_pos,
    aggregate_previous,
    aggregate_sources,
)
from scoring.schema import ID, NO_DATE

NAN = float("nan")


def _check(frame: pd.DataFrame, expected: dict[int, dict[str, float]]) -> None:
    assert frame.index.name == ID
    assert frame.index.dtype == "int64"
    assert (frame.dtypes == "float64").all()
    assert sorted(frame.index) == sorted(expected)
    for client, values in expected.items():
        for column, value in values.items():
            got = frame.loc[client, column]
            if math.isnan(value):
                assert math.isnan(got), (client, column, got)
            else:
                assert got == pytest.approx(value, rel=1e-12), (client, column)


def test_bureau_with_balance() -> None:
    bureau = pd.DataFrame(
        {
            ID: [1, 1, 1, 2],
            "SK_ID_BUREAU": [10, 11, 12, 20],
            "CREDIT_ACTIVE": ["Active", "Closed", "Active", "Closed"],
            "DAYS_CREDIT": [-100, -300, -200, -50],
            "AMT_CREDIT_SUM": [1000.0, 2000.0, NAN, 0.0],
            "AMT_CREDIT_SUM_DEBT": [400.0, 0.0, 100.0, 0.0],
            "AMT_CREDIT_SUM_OVERDUE": [0.0, 50.0, 0.0, 0.0],
            "CREDIT_DAY_OVERDUE": [0, 30, 5, 0],
        }
    )
    balance = pd.DataFrame(
        {
            "SK_ID_BUREAU": [10, 10, 10, 10, 11, 11, 20],
            "MONTHS_BALANCE": [0, -1, -2, -3, 0, -1, 0],
            "STATUS": ["0", "1", "C", "X", "5", "0", "0"],
        }
    )
    out = aggregate_bureau(bureau, {"bureau": bureau, "bureau_balance": balance})
    assert list(out.columns) == BUREAU_COLUMNS
    _check(
        out,
        {
            1: {
                "BUREAU_LOAN_COUNT": 3,
                "BUREAU_ACTIVE_COUNT": 2,
                "BUREAU_DAYS_CREDIT_MEAN": -200,  # (-100 - 300 - 200) / 3
                "BUREAU_CREDIT_SUM": 3000,  # 1000 + 2000, the missing one skipped
                "BUREAU_DEBT_SUM": 500,  # 400 + 0 + 100
                "BUREAU_DEBT_CREDIT_RATIO": 500 / 3000,
                "BUREAU_OVERDUE_SUM": 50,
                "BUREAU_MAX_DAYS_OVERDUE": 30,
                # credit 10: 1 late month of 4 = 0.25; credit 11: 1 of 2 = 0.5; 12: no balance
                "BUREAU_LATE_MONTH_SHARE": (0.25 + 0.5) / 2,
            },
            2: {
                "BUREAU_LOAN_COUNT": 1,
                "BUREAU_ACTIVE_COUNT": 0,
                "BUREAU_DEBT_CREDIT_RATIO": NAN,  # 0 / 0: missing, not inf
                "BUREAU_LATE_MONTH_SHARE": 0.0,
            },
        },
    )


def test_bureau_without_balance_or_optional_columns() -> None:
    bureau = pd.DataFrame({ID: [5, 5], "SK_ID_BUREAU": [1, 2]})
    out = aggregate_bureau(bureau, {})
    _check(
        out,
        {
            5: {
                "BUREAU_LOAN_COUNT": 2,
                "BUREAU_ACTIVE_COUNT": 0,
                "BUREAU_CREDIT_SUM": NAN,  # no AMT_CREDIT_SUM column at all
                "BUREAU_LATE_MONTH_SHARE": NAN,
            }
        },
    )


def test_previous_applications() -> None:
    previous = pd.DataFrame(
        {
            ID: [1, 1, 1, 1, 2],
            "SK_ID_PREV": [1, 2, 3, 4, 5],
            "NAME_CONTRACT_STATUS": ["Approved", "Refused", "Approved", "Canceled", "Refused"],
            "AMT_APPLICATION": [100.0, 200.0, 300.0, 400.0, 0.0],
            "AMT_CREDIT": [110.0, 0.0, 330.0, NAN, 0.0],
            "DAYS_DECISION": [-10, -20, -30, -40, -5],
        }
    )
    out = aggregate_previous(previous, {})
    assert list(out.columns) == PREVIOUS_COLUMNS
    _check(
        out,
        {
            1: {
                "PREV_COUNT": 4,
                "PREV_APPROVED_SHARE": 0.5,
                "PREV_REFUSED_SHARE": 0.25,
                "PREV_AMT_APPLICATION_MEAN": 250,  # 1000 / 4
                "PREV_CREDIT_APPLICATION_RATIO": 440 / 1000,  # (110 + 0 + 330) / (100..400)
                "PREV_DAYS_DECISION_MEAN": -25,
            },
            2: {"PREV_COUNT": 1, "PREV_REFUSED_SHARE": 1.0, "PREV_CREDIT_APPLICATION_RATIO": NAN},
        },
    )


def test_no_date_placeholder_is_a_missing_day_not_a_day() -> None:
    """Kaggle writes 365243 for "no date": averaging it would put a credit 1,000 years ahead."""
    previous = pd.DataFrame(
        {ID: [1, 1, 2], "SK_ID_PREV": [1, 2, 3], "DAYS_DECISION": [-10, NO_DATE, NO_DATE]}
    )
    out = aggregate_previous(previous, {})
    _check(
        out,
        {
            1: {"PREV_COUNT": 2, "PREV_DAYS_DECISION_MEAN": -10},
            2: {"PREV_COUNT": 1, "PREV_DAYS_DECISION_MEAN": NAN},
        },
    )
    bureau = pd.DataFrame({ID: [1, 1], "SK_ID_BUREAU": [1, 2], "DAYS_CREDIT": [-300, NO_DATE]})
    _check(aggregate_bureau(bureau, {}), {1: {"BUREAU_DAYS_CREDIT_MEAN": -300}})
    inst = pd.DataFrame(
        {
            ID: [1, 1],
            "SK_ID_PREV": [1, 1],
            "DAYS_INSTALMENT": [-40, -10],
            "DAYS_ENTRY_PAYMENT": [-30, NO_DATE],  # the second one was never paid
        }
    )
    _check(
        aggregate_installments(inst, {}), {1: {"INST_LATE_SHARE": 0.5, "INST_DAYS_LATE_MEAN": 10.0}}
    )


def test_pos_cash() -> None:
    pos = pd.DataFrame(
        {
            ID: [1, 1, 1, 2],
            "SK_ID_PREV": [1, 1, 1, 2],
            "MONTHS_BALANCE": [-1, -2, -3, -1],
            "SK_DPD": [0, 6, 3, 0],
        }
    )
    out = aggregate_pos(pos, {})
    assert list(out.columns) == POS_COLUMNS
    _check(
        out,
        {
            1: {"POS_MONTHS": 3, "POS_DPD_MEAN": 3.0, "POS_DPD_MAX": 6},
            2: {"POS_MONTHS": 1, "POS_DPD_MEAN": 0.0, "POS_DPD_MAX": 0},
        },
    )


def test_installments() -> None:
    inst = pd.DataFrame(
        {
            ID: [1, 1, 1, 2],
            "SK_ID_PREV": [1, 1, 1, 2],
            "DAYS_INSTALMENT": [-100, -70, -40, -10],
            # paid early, 10 days late, 4 days late, on time
            "DAYS_ENTRY_PAYMENT": [-105, -60, -36, -10],
            "AMT_INSTALMENT": [100.0, 100.0, 200.0, 50.0],
            "AMT_PAYMENT": [100.0, 50.0, 200.0, 50.0],
        }
    )
    out = aggregate_installments(inst, {})
    assert list(out.columns) == INSTALLMENT_COLUMNS
    _check(
        out,
        {
            1: {
                "INST_COUNT": 3,
                "INST_LATE_SHARE": 2 / 3,
                "INST_DAYS_LATE_MEAN": (0 + 10 + 4) / 3,  # paying early counts as 0, not -5
                "INST_PAID_RATIO": 350 / 400,
            },
            2: {"INST_COUNT": 1, "INST_LATE_SHARE": 0.0, "INST_PAID_RATIO": 1.0},
        },
    )


def test_credit_cards() -> None:
    cards = pd.DataFrame(
        {
            ID: [1, 1, 2],
            "SK_ID_PREV": [1, 1, 2],
            "MONTHS_BALANCE": [-1, -2, -1],
            "AMT_BALANCE": [500.0, 1000.0, 100.0],
            "AMT_CREDIT_LIMIT_ACTUAL": [1000.0, 1000.0, 0.0],
            "SK_DPD": [0, 2, 0],
        }
    )
    out = aggregate_cards(cards, {})
    assert list(out.columns) == CARD_COLUMNS
    _check(
        out,
        {
            1: {"CC_MONTHS": 2, "CC_UTILISATION_MEAN": 0.75, "CC_DPD_MAX": 2},
            2: {"CC_UTILISATION_MEAN": NAN},  # a zero limit gives no utilisation, not inf
        },
    )


@pytest.mark.parametrize("table", sorted(AGGREGATORS))
@pytest.mark.parametrize("given", [None, "empty"])
def test_absent_table_gives_empty_frame_with_the_columns(table: str, given: str | None) -> None:
    frame = None if given is None else pd.DataFrame(columns=[ID])
    out = AGGREGATORS[table](frame, {})
    assert out.empty
    assert out.index.name == ID
    assert list(out.columns) == list(aggregate_sources([table]))
    assert (out.dtypes == "float64").all()


def test_sources_name_their_table() -> None:
    sources = aggregate_sources(sorted(AGGREGATORS))
    assert set(sources) == {
        *BUREAU_COLUMNS,
        *PREVIOUS_COLUMNS,
        *POS_COLUMNS,
        *INSTALLMENT_COLUMNS,
        *CARD_COLUMNS,
    }
    assert all(
        s.split(".")[0] in {*AGGREGATORS, "bureau_balance"} for v in sources.values() for s in v
    )
    assert np.all([len(v) > 0 for v in sources.values()])
