"""Counterfactual search on a transparent fake model: smallest change, bounded, deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.counterfactual import Change, Counterfactual, find, label, message

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
    # the annuity follows the credit amount (same term), as a derived change
    assert [(c.column, c.derived) for c in result.changes] == [
        ("AMT_CREDIT", False),
        ("AMT_ANNUITY", True),
    ]
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
    assert {c.column for c in result.changes if not c.derived} == {
        "AMT_CREDIT",
        "AMT_INCOME_TOTAL",
    }
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


class AnnuityModel(FakeModel):
    """Risk grows with the annuity / income only: a lower credit helps only if the annuity
    follows it, as it does for a loan of the same term."""

    def transform(self, raw: pd.DataFrame) -> pd.DataFrame:
        self.last = raw.copy()
        ratio = raw["AMT_ANNUITY"].astype(float) / raw["AMT_INCOME_TOTAL"].astype(float)
        return pd.DataFrame({"ratio": ratio * 20, "car": 0.0 * ratio})


def test_a_lower_credit_keeps_the_term_so_the_annuity_follows() -> None:
    model = AnnuityModel()
    row = client(430_000, 100_000)  # annuity 21,500: term 20 years
    result = find(model, model.transform, row, ["AMT_CREDIT"])
    assert result.found
    credit, annuity = result.changes
    assert (credit.column, credit.derived) == ("AMT_CREDIT", False)
    assert (annuity.column, annuity.derived, annuity.relative) == ("AMT_ANNUITY", True, 0.0)
    assert annuity.before == 21_500
    assert annuity.after == pytest.approx(21_500 * credit.after / credit.before, abs=0.5)
    assert credit.after / annuity.after == pytest.approx(20, abs=1e-3), "same term"
    # every candidate scored was a loan of the client's term
    scored = model.last
    terms = scored["AMT_CREDIT"].astype(float) / scored["AMT_ANNUITY"].astype(float)
    assert terms.to_numpy() == pytest.approx(20, abs=1e-3)


def test_an_annuity_changed_on_its_own_is_not_tied_to_the_credit() -> None:
    model = AnnuityModel()
    result = find(model, model.transform, client(430_000, 100_000), ["AMT_ANNUITY"])
    assert result.found
    assert [(c.column, c.derived) for c in result.changes] == [("AMT_ANNUITY", False)]


def _result(changes: list[Change], after: float, threshold: float = 0.5) -> Counterfactual:
    return Counterfactual(True, 0.62, after, threshold, changes, 1)


def test_french_message_with_french_numbers_and_the_annuity_that_follows() -> None:
    changes = [
        Change("AMT_CREDIT", 430_000.0, 387_000.0, 0.1),
        Change("AMT_ANNUITY", 21_500.0, 19_350.0, 0.0, derived=True),
    ]
    text = message(_result(changes, 0.4321), "fr")
    assert text == (
        "Réduire le montant du crédit de 430\u202f000\u00a0€ à 387\u202f000\u00a0€ (une annuité "
        "de 19\u202f350\u00a0€ au lieu de 21\u202f500\u00a0€, même durée) ferait passer la "
        "probabilité de défaut de 62,0\u00a0% à 43,2\u00a0% (seuil 50,0\u00a0%) : crédit accordé."
    )
    english = message(_result(changes, 0.4321), "en")
    assert english.startswith(
        "Lowering the credit amount from €430,000 to €387,000 (an annuity of €19,350 instead "
        "of €21,500, same term) would bring"
    )


def test_french_message_elides_the_article() -> None:
    changes = [Change("AMT_ANNUITY", 21_500.0, 19_350.0, 0.1)]
    text = message(_result(changes, 0.4), "fr")
    assert text.startswith("Réduire l'annuité du prêt de 21\u202f500\u00a0€ à 19\u202f350\u00a0€")
    assert "le annuité" not in text


def test_message_never_reads_as_a_contradiction_after_rounding() -> None:
    changes = [Change("AMT_INCOME_TOTAL", 100_000.0, 110_000.0, 0.1)]
    # 9.66% against 9.70%: one decimal would print "9.7% (threshold 9.7%)"
    text = message(_result(changes, 0.0966, threshold=0.0970), "en")
    assert "to 9.66% (threshold 9.70%)" in text
    close = message(_result(changes, 0.0969999, threshold=0.0970), "fr")
    assert "juste sous le seuil de 9,7\u00a0%" in close
    assert "Augmenter le revenu annuel de" in close


def test_yes_no_changes_read_in_both_languages() -> None:
    changes = [Change("FLAG_OWN_CAR", "N", "Y", 1.0)]
    assert message(_result(changes, 0.4), "fr").startswith("Possède une voiture : oui ferait")
    assert message(_result(changes, 0.4), "en").startswith("Owns a car: yes would")
