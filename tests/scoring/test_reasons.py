"""Plain-language reasons: the right contributions, in the right order, in English and French."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.model import Explanation, ScoringModel
from scoring.reasons import (
    Contribution,
    format_value,
    grouped_contributions,
    reasons,
    top_contributions,
)


def _explanation(
    model: ScoringModel, shap: dict[str, float], values: dict[str, float]
) -> Explanation:
    names = model.feature_names
    contributions = np.array([shap.get(n, 0.0) for n in names])
    row = np.array([values.get(n, np.nan) for n in names])
    return model.explanation_from(row, contributions, base=-2.0)


@pytest.fixture
def crafted(model: ScoringModel) -> Explanation:
    shap = {
        "EXT_SOURCE_2": 0.8,
        "AGE_YEARS": -0.5,
        "CREDIT_INCOME_RATIO": 0.3,
        "OWNS_CAR": -0.3,
        "AMT_INCOME_TOTAL": 0.1,
        "EXT_SOURCE_3": -0.05,
    }
    values = {
        "EXT_SOURCE_2": 0.12,
        "AGE_YEARS": 52.3,
        "CREDIT_INCOME_RATIO": 4.25,
        "OWNS_CAR": 1.0,
        "AMT_INCOME_TOTAL": 135_000.0,
        "EXT_SOURCE_MEAN": 0.31,
    }
    return _explanation(model, shap, values)


def test_top_contributions_by_absolute_value_then_name(
    model: ScoringModel, crafted: Explanation
) -> None:
    items, rest_count, rest_sum = top_contributions(crafted, model, top=4)
    assert [i.feature for i in items] == [
        "EXT_SOURCE_2",
        "AGE_YEARS",
        "CREDIT_INCOME_RATIO",
        "OWNS_CAR",
    ]
    assert [i.shap for i in items] == [0.8, -0.5, 0.3, -0.3]
    assert items[0].value == pytest.approx(0.12)
    assert items[0].label == "External score 2"
    assert rest_count == len(model.feature_names) - 4
    assert rest_sum == pytest.approx(0.1 - 0.05)
    assert sum(i.shap for i in items) + rest_sum == pytest.approx(crafted.shap.sum())


def test_missing_value_is_none(model: ScoringModel, crafted: Explanation) -> None:
    items, _, _ = top_contributions(crafted, model, top=len(model.feature_names))
    by_name = {i.feature: i for i in items}
    assert by_name["EXT_SOURCE_3"].value is None


def test_reasons_each_way_in_english(model: ScoringModel, crafted: Explanation) -> None:
    # EXT_SOURCE_2 (+0.8) and EXT_SOURCE_3 (-0.05) are told as one fact: +0.75, shown with
    # EXT_SOURCE_MEAN's value; then by |SHAP|: age -0.5, credit/income +0.3, car -0.3, income +0.1.
    text = reasons(crafted, model, "en", n=3)
    assert text["against"] == [
        "External credit scores: 0.31, which raises the risk of default.",
        "Credit / income: 4.25, which raises the risk of default.",
        "Annual income: €135,000, which raises the risk of default.",
    ]
    assert text["for"] == [
        "Age (years): 52.3, which lowers the risk of default.",
        "Owns a car: yes, which lowers the risk of default.",
    ]


def test_reasons_in_french(model: ScoringModel, crafted: Explanation) -> None:
    text = reasons(crafted, model, "fr", n=2)
    assert text["against"] == [
        "Scores de crédit externes : 0,31, ce qui augmente le risque de défaut.",
        "Crédit / revenu : 4,25, ce qui augmente le risque de défaut.",
    ]
    assert text["for"] == [
        "Âge (années) : 52,3, ce qui réduit le risque de défaut.",
        "Possède une voiture : oui, ce qui réduit le risque de défaut.",
    ]


def test_grouped_scores_that_cancel_out_give_way(model: ScoringModel) -> None:
    explanation = _explanation(
        model,
        {"EXT_SOURCE_1": 0.9, "EXT_SOURCE_3": -0.85, "AMT_CREDIT": 0.2},
        {"AMT_CREDIT": 450_000.0, "EXT_SOURCE_MEAN": 0.5},
    )
    text = reasons(explanation, model, "en", n=1)
    assert text["against"] == ["Credit amount: €450,000, which raises the risk of default."]
    assert text["for"] == []
    totals, units = grouped_contributions(explanation, model, "en")
    groups = [u for u in units if isinstance(u, Contribution)]
    assert [g.shap for g in groups] == [pytest.approx(0.05)]
    assert totals.sum() == pytest.approx(explanation.shap.sum())


def test_no_reason_when_nothing_contributes(model: ScoringModel) -> None:
    assert reasons(_explanation(model, {}, {}), model) == {"against": [], "for": []}


def test_format_value(model: ScoringModel) -> None:
    info = model.feature_info("ORGANIZATION_TYPE")
    assert info is not None
    assert info.levels
    levels = info.levels
    assert format_value(model, "ORGANIZATION_TYPE", 0.0, "en") == levels[0]
    # a code outside the vocabulary is shown as the number it is (no decimals for integers)
    assert format_value(model, "ORGANIZATION_TYPE", float(len(levels) + 5), "en") == (
        f"{len(levels) + 5}"
    )
    assert format_value(model, "HOUR_APPR_PROCESS_START", 17.0, "fr") == "17"
    assert format_value(model, "OWNS_CAR", 0.0, "en") == "no"
    assert format_value(model, "OWNS_CAR", 0.0, "fr") == "non"
    assert format_value(model, "AMT_CREDIT", 1_234_567.4, "en") == "€1,234,567"
    assert format_value(model, "AMT_CREDIT", 1_234_567.4, "fr") == "1\u202f234\u202f567\u00a0€"
    assert format_value(model, "EXT_SOURCE_2", 0.456, "en") == "0.46"
    assert format_value(model, "EXT_SOURCE_2", -3.14159, "fr") == "-3,14"
    assert format_value(model, "AGE_YEARS", 41.06, "en") == "41.1"
    assert format_value(model, "AGE_YEARS", None, "en") == "unknown"
    assert format_value(model, "AGE_YEARS", None, "fr") == "inconnu"


def test_reasons_of_a_real_explanation_follow_its_shap(
    model: ScoringModel, sample_rows: np.ndarray
) -> None:
    explanation = model.explain(sample_rows[0])
    text = reasons(explanation, model, "en", n=3)
    totals, units = grouped_contributions(explanation, model, "en")
    assert totals.sum() == pytest.approx(explanation.shap.sum(), abs=1e-9)
    assert len(text["against"]) == min(3, int((totals > 0).sum()))
    assert len(text["for"]) == min(3, int((totals < 0).sum()))
    strongest = units[int(np.argmax(totals))]
    label = (
        strongest.label
        if isinstance(strongest, Contribution)
        else model.label(model.feature_names[strongest])
    )
    if (totals > 0).any():
        assert text["against"][0].startswith(f"{label}: ")
