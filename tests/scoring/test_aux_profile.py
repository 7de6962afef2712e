"""The auxiliary profile's laws, on small hand-made columns: aggregates only, never a record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.aux_profile import MIN_CELL_ROWS, cell_laws, column_law
from scoring.schema import NO_DATE


def test_no_date_is_a_share_not_a_day() -> None:
    days = pd.Series([NO_DATE] * 30 + list(range(-300, 0, 3)) + [np.nan] * 30, name="DAYS_LAST_DUE")
    law = column_law(days)
    assert law["missing_rate"] == pytest.approx(30 / 160, rel=1e-3)
    assert law["sentinel_rate"] == pytest.approx(30 / 130, rel=1e-3)
    assert law["max"] < 0  # the quantiles describe real days only


def test_zero_mass_kept_apart_from_the_quantiles() -> None:
    overdue = pd.Series([0] * 900 + list(range(6, 306, 3)), name="CREDIT_DAY_OVERDUE")
    law = column_law(overdue)
    assert law["zero_rate"] == pytest.approx(0.9)
    assert law["min"] == 6
    assert "values" not in law


def test_rare_values_are_not_listed() -> None:
    """A value seen a handful of times would be a record: such columns get quantiles."""
    common = pd.Series([0, 1, 2] * 20, name="CNT_CREDIT_PROLONG")
    assert [v for v, _ in column_law(common)["values"]] == [0, 1, 2]
    rare = pd.Series([0] * 57 + [1, 2, 2603], name="CREDIT_DAY_OVERDUE")
    assert "values" not in column_law(rare)


def test_small_cells_borrow_laws_and_keep_their_share() -> None:
    frame = pd.DataFrame(
        {
            "NAME_CONTRACT_TYPE": ["Cash loans"] * 60
            + ["Consumer loans"] * 3
            + ["Cash loans"] * 40,
            "NAME_CONTRACT_STATUS": ["Approved"] * 60 + ["Canceled"] * 43,
            "CODE_REJECT_REASON": ["XAP"] * 103,
        }
    )
    cells = cell_laws(frame, ["NAME_CONTRACT_TYPE", "NAME_CONTRACT_STATUS"])["cells"]
    small = next(c for c in cells if c["key"] == ["Consumer loans", "Canceled"])
    assert small["share"] == pytest.approx(3 / 103, rel=1e-3)
    assert small["laws_from"] == "NAME_CONTRACT_STATUS=Canceled"
    assert small["laws"]["CODE_REJECT_REASON"]["levels"] == [["XAP", 1.0]]
    assert all("laws" in c for c in cells if c["share"] * len(frame) >= MIN_CELL_ROWS)
