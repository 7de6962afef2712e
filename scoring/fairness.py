"""Group fairness of the decisions, out of fold, by gender and by age band (fairlearn).

A refusal is the "positive" prediction (the model predicts a default). Per group: its size,
approval rate, observed default rate, false-negative rate (defaults that were granted) and
false-positive rate (good clients who were refused). Across groups: fairlearn's
demographic-parity difference (largest gap in refusal rate, hence in approval rate) and
equalised-odds difference (the larger of the gaps in true- and false-positive rates).

Groups smaller than `min_group` are listed but left out of the differences: a gap between a
group of 3 clients and the rest measures noise, not the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from scoring.decision import refused as refused_by
from scoring.features import DAYS_PER_YEAR

AGE_BANDS: list[tuple[float, str]] = [(30, "<30"), (45, "30-45"), (60, "45-60"), (np.inf, "60+")]
MIN_GROUP = 30
MISSING = "missing"


def age_band(days_birth: np.ndarray) -> np.ndarray:
    """'<30', '30-45', '45-60' or '60+' from Kaggle's DAYS_BIRTH (negative days); lower bounds
    are inclusive (exactly 30 years old is '30-45')."""
    years = -np.asarray(days_birth, dtype="float64") / DAYS_PER_YEAR
    bands = np.full(years.shape, MISSING, dtype=object)
    lower = -np.inf
    for upper, name in AGE_BANDS:
        bands[(years >= lower) & (years < upper)] = name
        lower = upper
    return bands


def sensitive_groups(raw: pd.DataFrame) -> dict[str, np.ndarray]:
    """The attributes audited, from the raw application rows: gender and age band."""
    gender = raw["CODE_GENDER"].astype(object).where(raw["CODE_GENDER"].notna(), MISSING)
    return {
        "CODE_GENDER": gender.astype(str).to_numpy(dtype=object),
        "AGE_BAND": age_band(pd.to_numeric(raw["DAYS_BIRTH"], errors="coerce").to_numpy()),
    }


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _ordered(groups: np.ndarray) -> list[str]:
    """Age bands in age order, any other groups largest first (ties by name)."""
    counts = pd.Series(groups).value_counts()
    bands = [name for _, name in AGE_BANDS]
    if set(counts.index) <= {*bands, MISSING}:
        return [b for b in [*bands, MISSING] if b in counts.index]
    return sorted(counts.index, key=lambda g: (-counts[g], str(g)))


def group_rows(y: np.ndarray, refused: np.ndarray, groups: np.ndarray) -> list[dict[str, Any]]:
    """One row of figures per group."""
    rows = []
    for group in _ordered(groups):
        inside = groups == group
        truth, refusal = y[inside].astype(bool), refused[inside]
        defaults, goods = int(truth.sum()), int((~truth).sum())
        rows.append(
            {
                "group": str(group),
                "count": int(inside.sum()),
                "approval_rate": float(1 - refusal.mean()),
                "default_rate": float(truth.mean()),
                "false_negative_rate": _rate(int((truth & ~refusal).sum()), defaults),
                "false_positive_rate": _rate(int((~truth & refusal).sum()), goods),
            }
        )
    return rows


def fairness_report(
    y: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    sensitive: Mapping[str, np.ndarray],
    min_group: int = MIN_GROUP,
) -> dict[str, Any]:
    """Per attribute: the group table and fairlearn's two differences, at `threshold`."""
    from fairlearn.metrics import (  # training-only dependency
        demographic_parity_difference,
        equalized_odds_difference,
    )

    y = np.asarray(y).astype("int64")
    refused = refused_by(proba, threshold)
    report: dict[str, Any] = {"threshold": threshold, "min_group": min_group, "attributes": {}}
    for attribute, groups in sensitive.items():
        groups = np.asarray(groups, dtype=object)
        rows = group_rows(y, refused, groups)
        kept = {r["group"] for r in rows if r["count"] >= min_group}
        for row in rows:
            row["in_differences"] = row["group"] in kept
        mask = np.isin(groups, list(kept))
        entry: dict[str, Any] = {"groups": rows}
        if len(kept) >= 2:
            args = (y[mask], refused[mask].astype("int64"))
            entry["demographic_parity_difference"] = float(
                demographic_parity_difference(*args, sensitive_features=groups[mask])
            )
            entry["equalized_odds_difference"] = float(
                equalized_odds_difference(*args, sensitive_features=groups[mask])
            )
        else:
            entry["demographic_parity_difference"] = None
            entry["equalized_odds_difference"] = None
        report["attributes"][attribute] = entry
    return report
