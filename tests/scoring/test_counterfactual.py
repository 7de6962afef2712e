"""Counterfactual search on a transparent fake model: smallest change, bounded, deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.counterfactual import find, label, message

ACTIONABLE = ["AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE", "AMT_INCOME_TOTAL", "FLAG_OWN_CAR"]


class FakeModel:
    """Risk grows with credit / income; owning a car helps a little."""

    threshold = 0.5

    def __init__(self) -> None:
        self.calls = 0
        self.rows = 0

    def transform(self, raw: pd.DataFrame) -> pd.DataFrame:
        ratio = raw["AMT_CREDIT"].astype(float) / raw["AMT_INCOME_TOTAL"].astype(float)
        car = (raw["FLAG_OWN_CAR"] == "Y").astype(float)
        return pd.DataFrame({"ratio": ratio, "car": car, "annuity": raw["AMT_ANNUITY"]})

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.rows += len(features)
        z = (features[:, 0] - 4.0) * 2.0 - 0.5 * features[:, 1]
        return 1.0 / (1.0 + np.exp(-z))


def client(credit: float, income: float, car: str = "N") -> pd.Series:
    return pd.Series(
        {
            "SK_ID_CURR": 100001,
            "AMT_CREDIT": credit,
            "AMT_ANNUITY": credit / 20,
            "AMT_GOODS_PRICE": credit * 0.9,
            "AMT_INCOME_TOTAL": income,
            "FLAG_OWN_CAR": car,
            "CODE_GENDER": "F",
        }
    )


def test_granted_client_needs_no_change() -> None:
    model = FakeModel()
    result = find(model, model.transform, client(300_000, 100_000), ACTIONABLE)
    assert result.found
    assert result.changes == []
    assert result.decision_before == result.decision_after == "grant"
    assert model.calls == 1
    assert "already granted" in message(result)


def test_smallest_single_change_wins() -> None:
    model = FakeModel()
    # ratio 4.3: lowering credit by 10 % (ratio 3.87) crosses, 5 % does not; raising income by
    # 10 % crosses too but less far, so the tie on size goes to the credit.
    result = find(model, model.transform, client(430_000, 100_000), ACTIONABLE)
    assert result.found
    assert result.decision_before == "refuse"
    assert result.decision_after == "grant"
    assert [c.column for c in result.changes] == ["AMT_CREDIT"]
    assert result.changes[0].relative == pytest.approx(0.1)
    assert result.probability_after is not None
    assert result.probability_after < 0.5
    assert model.calls == 1
    assert "would bring" in message(result)
    assert "ferait passer" in message(result, "fr")


def test_two_columns_when_one_is_not_enough() -> None:
    model = FakeModel()
    # ratio 9: half the credit gives 4.5 (refused); half credit and double income crosses.
    result = find(model, model.transform, client(900_000, 100_000), ACTIONABLE)
    assert result.found
    assert {c.column for c in result.changes} == {"AMT_CREDIT", "AMT_INCOME_TOTAL"}
    assert model.calls == 2
    fresh = FakeModel()
    again = find(fresh, fresh.transform, client(900_000, 100_000), ACTIONABLE)
    assert again == result


def test_not_found_is_reported_with_bounded_calls() -> None:
    model = FakeModel()
    result = find(model, model.transform, client(5_000_000, 100_000), ACTIONABLE)
    assert not result.found
    assert result.decision_after is None
    assert result.probability_after is None
    assert model.calls <= 3
    assert model.rows < 2000
    assert "No reasonable change" in message(result)
    assert "Aucun" in message(result, "fr")


def test_missing_or_zero_columns_are_not_moved() -> None:
    model = FakeModel()
    row = client(420_000, 100_000)
    row["AMT_CREDIT"] = np.nan
    row["AMT_INCOME_TOTAL"] = 100_000
    frame = row.to_frame().T
    result = find(model, model.transform, frame, ["AMT_CREDIT"])
    assert not result.found


def test_labels() -> None:
    assert label("AMT_CREDIT", "fr") == "montant du crédit"
    assert label("SOME_COLUMN") == "some column"
