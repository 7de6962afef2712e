"""Fairness figures against a case worked out by hand, age bands, small groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.fairness import age_band, fairness_report, group_rows, sensitive_groups

# Two groups of five. A: defaults on rows 0-1, refused rows 0 and 2.
#                     B: default on row 5, refused rows 5, 6 and 7.
GROUPS = np.array(["A"] * 5 + ["B"] * 5, dtype=object)
Y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0])
REFUSED = np.array([1, 0, 1, 0, 0, 1, 1, 1, 0, 0], dtype=bool)
PROBA = np.where(REFUSED, 0.9, 0.1)

# By hand. A: approval 3/5, default rate 2/5, FNR 1/2 (row 1 granted), FPR 1/3 (row 2 of 3 goods)
#          B: approval 2/5, default rate 1/5, FNR 0/1, FPR 2/4 (rows 6, 7 of 4 goods).
# Demographic parity: refusal rates 2/5 and 3/5 -> 0.2.
# Equalised odds: TPR 1/2 vs 1 -> 0.5; FPR 1/3 vs 1/2 -> 1/6; the larger is 0.5.
BY_HAND = {
    "A": {"count": 5, "approval_rate": 0.6, "default_rate": 0.4, "fnr": 0.5, "fpr": 1 / 3},
    "B": {"count": 5, "approval_rate": 0.4, "default_rate": 0.2, "fnr": 0.0, "fpr": 0.5},
}


def test_group_figures_equal_the_hand_computed_case() -> None:
    rows = {r["group"]: r for r in group_rows(Y, REFUSED, GROUPS)}
    for group, expected in BY_HAND.items():
        row = rows[group]
        assert row["count"] == expected["count"]
        assert row["approval_rate"] == pytest.approx(expected["approval_rate"])
        assert row["default_rate"] == pytest.approx(expected["default_rate"])
        assert row["false_negative_rate"] == pytest.approx(expected["fnr"])
        assert row["false_positive_rate"] == pytest.approx(expected["fpr"])


def test_fairlearn_differences_equal_the_hand_computed_case() -> None:
    report = fairness_report(Y, PROBA, 0.5, {"group": GROUPS}, min_group=1)
    entry = report["attributes"]["group"]
    assert entry["demographic_parity_difference"] == pytest.approx(0.2)
    assert entry["equalized_odds_difference"] == pytest.approx(0.5)
    assert report["threshold"] == 0.5
    assert all(g["in_differences"] for g in entry["groups"])


def test_small_groups_are_listed_but_left_out_of_the_differences() -> None:
    groups = np.concatenate([GROUPS, ["C", "C"]])
    y = np.concatenate([Y, [1, 1]])
    proba = np.concatenate([PROBA, [0.1, 0.1]])  # C: both defaults granted, FNR 1
    report = fairness_report(y, proba, 0.5, {"group": groups}, min_group=3)
    entry = report["attributes"]["group"]
    small = next(g for g in entry["groups"] if g["group"] == "C")
    assert (small["count"], small["in_differences"], small["false_negative_rate"]) == (
        2,
        False,
        1.0,
    )
    assert small["false_positive_rate"] is None  # no good client in C: the rate is undefined
    assert entry["demographic_parity_difference"] == pytest.approx(0.2)
    assert entry["equalized_odds_difference"] == pytest.approx(0.5)


def test_one_usable_group_gives_no_difference() -> None:
    report = fairness_report(Y, PROBA, 0.5, {"group": GROUPS}, min_group=6)
    assert report["attributes"]["group"]["demographic_parity_difference"] is None


def test_age_bands_have_inclusive_lower_bounds() -> None:
    years = np.array([18, 29.99, 30, 44.99, 45, 59.99, 60, 80])
    bands = age_band(-years * 365.25)
    assert list(bands) == ["<30", "<30", "30-45", "30-45", "45-60", "45-60", "60+", "60+"]
    assert age_band(np.array([np.nan]))[0] == "missing"


def test_sensitive_groups_from_raw_rows() -> None:
    raw = pd.DataFrame(
        {"CODE_GENDER": ["F", "M", None, "XNA"], "DAYS_BIRTH": [-9000, -20000, -12000, np.nan]}
    )
    groups = sensitive_groups(raw)
    assert list(groups["CODE_GENDER"]) == ["F", "M", "missing", "XNA"]
    assert list(groups["AGE_BAND"]) == ["<30", "45-60", "30-45", "missing"]
    rows = group_rows(np.array([0, 1, 0, 0]), np.zeros(4, dtype=bool), groups["AGE_BAND"])
    assert [r["group"] for r in rows] == ["<30", "30-45", "45-60", "missing"]  # age order
