"""ScoringModel: probabilities, decisions, exact TreeSHAP, and strict model-ready records."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scoring.errors import ImplausibleValueError, InvalidFeatureValueError, UnknownFeatureError
from scoring.model import ScoringModel, sigmoid


def test_shap_adds_up_to_the_raw_score_and_probability(
    model: ScoringModel, sample_rows: np.ndarray
) -> None:
    raw = model.booster.predict(sample_rows, raw_score=True)
    proba = model.predict_proba(sample_rows)
    for i, x in enumerate(sample_rows):
        explanation = model.explain(x)
        assert explanation.base_value + explanation.shap.sum() == pytest.approx(raw[i], abs=1e-9)
        assert explanation.raw_score == pytest.approx(raw[i], abs=1e-9)
        assert explanation.probability == pytest.approx(sigmoid(raw[i]), abs=1e-12)
        assert explanation.probability == pytest.approx(proba[i], abs=1e-12)
        assert model.score(x).probability == pytest.approx(proba[i], abs=1e-12)
        np.testing.assert_array_equal(explanation.values, x)
        assert explanation.shap.shape == (len(model.feature_names),)


@pytest.mark.filterwarnings("ignore:LightGBM binary classifier:UserWarning")
def test_shap_equals_shap_tree_explainer(model: ScoringModel, sample_rows: np.ndarray) -> None:
    shap = pytest.importorskip("shap")
    explainer = shap.TreeExplainer(model.booster)
    expected = explainer.shap_values(sample_rows)
    if isinstance(expected, list):  # older shap: one array per class
        expected = expected[-1]
    expected = np.asarray(expected)
    ours = model.contributions(sample_rows)
    assert len(sample_rows) >= 5
    np.testing.assert_allclose(ours[:, :-1], expected, atol=1e-6, rtol=0)
    expected_value = np.ravel(explainer.expected_value)[-1]
    np.testing.assert_allclose(ours[:, -1], expected_value, atol=1e-6)
    for i, x in enumerate(sample_rows):
        np.testing.assert_allclose(model.explain(x).shap, expected[i], atol=1e-6, rtol=0)


def test_threads_do_not_change_results(model: ScoringModel, sample_rows: np.ndarray) -> None:
    np.testing.assert_array_equal(
        model.predict_proba(sample_rows, threads=1), model.predict_proba(sample_rows, threads=2)
    )
    np.testing.assert_allclose(
        model.contributions(sample_rows, threads=1),
        model.contributions(sample_rows, threads=2),
        atol=1e-12,
    )


def test_decision_against_the_threshold(model: ScoringModel) -> None:
    t = model.threshold
    assert 0 < t < 1
    assert model.decide(t).decision == "refuse"  # at the threshold, as in the cost search
    assert model.decide(math.nextafter(t, 0)).decision == "grant"
    assert model.decide(1.0).decision == "refuse"
    assert model.decide(t).reason == "at_or_above_threshold"
    assert model.decide(0.0).reason == "below_threshold"


def test_score_carries_threshold_and_version(model: ScoringModel, sample_rows: np.ndarray) -> None:
    score = model.score(sample_rows[0])
    assert score.threshold == model.threshold == model.metadata.threshold
    assert score.model_version == model.version == model.metadata.version
    assert score.verdict == model.decide(score.probability, model.missing_in(sample_rows[0]))


def test_explanation_from_cache_matches_explain(
    model: ScoringModel, sample_rows: np.ndarray
) -> None:
    contrib = model.contributions(sample_rows)
    for i, x in enumerate(sample_rows):
        direct = model.explain(x)
        rebuilt = model.explanation_from(x, contrib[i, :-1], float(contrib[i, -1]))
        assert rebuilt.probability == pytest.approx(direct.probability, abs=1e-12)
        assert rebuilt.raw_score == pytest.approx(direct.raw_score, abs=1e-12)
        assert rebuilt.decision == direct.decision
        np.testing.assert_array_equal(rebuilt.shap, direct.shap)


# --- vector(): strict records ---------------------------------------------------------------


def test_vector_places_values_and_lists_missing(model: ScoringModel) -> None:
    names = model.feature_names
    record: dict[str, Any] = {names[0]: 1.5, names[1]: None, names[2]: np.float32(2.0), names[3]: 4}
    x, missing = model.vector(record)
    assert x.shape == (len(names),)
    assert x[0] == 1.5
    assert x[2] == 2.0
    assert x[3] == 4.0
    assert np.isnan(x[1])
    assert np.isnan(x[4:]).all()
    assert missing == [n for i, n in enumerate(names) if i not in (0, 2, 3)]


def test_empty_record_is_all_missing_and_still_scores(model: ScoringModel) -> None:
    x, missing = model.vector({})
    assert missing == model.feature_names
    assert 0 < model.score(x).probability < 1


def test_unknown_features_are_all_listed(model: ScoringModel) -> None:
    record = {model.feature_names[0]: 1.0, "ZZZ_NOT_A_FEATURE": 1.0, "AAA_UNKNOWN": 2.0}
    with pytest.raises(UnknownFeatureError) as caught:
        model.vector(record)
    assert caught.value.names == ["AAA_UNKNOWN", "ZZZ_NOT_A_FEATURE"]
    assert str(caught.value) == "unknown features: AAA_UNKNOWN, ZZZ_NOT_A_FEATURE"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), "finite number"),
        (float("inf"), "finite number"),
        (-math.inf, "finite number"),
        (np.float64("nan"), "finite number"),
        ("0.5", "got str"),
        (True, "got bool"),
        (np.bool_(False), "got bool"),
        ([1.0], "got list"),
    ],
    ids=["nan", "inf", "-inf", "np-nan", "string", "bool", "np-bool", "list"],
)
def test_invalid_values_name_the_feature(model: ScoringModel, value: object, reason: str) -> None:
    name = "EXT_SOURCE_2" if "EXT_SOURCE_2" in model.feature_names else model.feature_names[0]
    with pytest.raises(InvalidFeatureValueError) as caught:
        model.vector({model.feature_names[-1]: 1.0, name: value})
    assert caught.value.name == name
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"feature {name}: ")


# --- metadata helpers -----------------------------------------------------------------------


def test_labels_in_both_languages(model: ScoringModel) -> None:
    assert model.label("EXT_SOURCE_2") == "External score 2"
    assert model.label("EXT_SOURCE_2", "fr") == "Score externe 2"
    assert model.label("NOT_A_FEATURE") == "NOT_A_FEATURE"
    assert all(model.label(name) != "" for name in model.feature_names)
    assert [f.name for f in model.metadata.features] == model.feature_names


def test_importance_sorted_and_complete(model: ScoringModel) -> None:
    values = list(model.importance.values())
    assert set(model.importance) == set(model.feature_names)
    assert values == sorted(values, reverse=True)
    assert values[0] > 0


def test_distribution_counts_the_reference(model: ScoringModel) -> None:
    result = model.distribution("EXT_SOURCE_2", bins=10)
    assert len(result.bin_edges) == 11
    reference = model.reference
    total = sum(result.counts_0) + sum(result.counts_1) + result.missing_0 + result.missing_1
    assert total == len(reference)
    assert sum(result.counts_1) + result.missing_1 == int(reference["TARGET"].sum())
    by_prediction = model.distribution("EXT_SOURCE_2", by="prediction", bins=5)
    refused = int((reference["probability"] >= model.threshold).sum())
    assert sum(by_prediction.counts_1) + by_prediction.missing_1 == refused
    with pytest.raises(UnknownFeatureError):
        model.distribution("NOT_A_FEATURE")


def test_transform_frame_is_in_model_order(
    model: ScoringModel, clients_features: pd.DataFrame
) -> None:
    assert list(clients_features.columns) == model.feature_names
    assert model.booster.feature_name() == model.feature_names


# --- rows(): a batch in one pass ------------------------------------------------------------


def _record(model: ScoringModel, row: np.ndarray, order: list[int]) -> dict[str, Any]:
    names = model.feature_names
    return {names[i]: (None if math.isnan(row[i]) else float(row[i])) for i in order}


def test_rows_match_vector_whatever_the_order_of_names(
    model: ScoringModel, sample_rows: np.ndarray
) -> None:
    """Full records in the model's order (one block), one other shared order (one block
    scattered) and mixed orders (value by value) give the rows and missing names of ``vector``."""
    width = len(model.feature_names)
    model_order = list(range(width))
    reversed_half = model_order[::-2]  # a partial record, names in another order
    batches = {
        "model order": [_record(model, r, model_order) for r in sample_rows],
        "one other order": [_record(model, r, reversed_half) for r in sample_rows],
        "mixed": [
            _record(model, r, model_order if i % 2 else reversed_half)
            for i, r in enumerate(sample_rows)
        ]
        + [{}],
    }
    for label, records in batches.items():
        rows = model.rows(records)
        assert rows.matrix.shape == (len(records), width), label
        missing = rows.missing()
        for i, record in enumerate(records):
            x, names = model.vector(record)
            np.testing.assert_array_equal(rows.matrix[i], x, err_msg=label)
            assert missing[i] == names, label


def test_rows_take_integers_as_floats_and_name_the_first_bad_value(model: ScoringModel) -> None:
    a, b = model.feature_names[:2]
    np.testing.assert_array_equal(model.rows([{a: 2}, {a: 2.0}]).matrix[:, 0], [2.0, 2.0])
    with pytest.raises(InvalidFeatureValueError, match=f"feature {b}: must be a finite"):
        model.rows([{a: 1.0, b: None}, {a: 1.0, b: math.inf}])
    with pytest.raises(InvalidFeatureValueError, match=f"feature {b}: must be a finite"):
        model.rows([{a: None, b: None}, {a: None, b: math.nan}])  # a NaN among the nulls
    with pytest.raises(InvalidFeatureValueError, match=f"feature {a}: expected a number"):
        model.rows([{b: 1.0}, {a: "1.5"}])


def test_typed_rows_are_the_checked_rows_and_still_check_names_and_ranges(
    model: ScoringModel,
) -> None:
    """``typed``: values known to be finite floats or None skip the type scans only."""
    a, b = model.feature_names[:2]
    records = [{a: 2.0, b: None}, {b: float(model.reference[b].dropna().iloc[0])}, {}]
    np.testing.assert_array_equal(
        model.rows(records, typed=True).matrix, model.rows(records).matrix
    )
    with pytest.raises(UnknownFeatureError):
        model.rows([{"NOT_A_FEATURE": 1.0}], typed=True)
    with pytest.raises(ImplausibleValueError):
        model.rows([{"AMT_CREDIT": -5.0}], typed=True)


def test_decide_rows_match_score_of_row_by_row(
    model: ScoringModel, sample_rows: np.ndarray
) -> None:
    rows = np.vstack([sample_rows, np.full((1, len(model.feature_names)), np.nan)])  # a refer
    probabilities = model.predict_proba(rows)
    scores = model.decide_rows(probabilities, rows)
    assert "refer" in scores.decision
    for i, row in enumerate(rows):
        one = model.score_of(float(probabilities[i]), row)
        assert scores.probability[i] == one.probability
        assert scores.decision[i] == one.decision
        assert scores.reason[i] == one.decision_reason
        assert scores.missing_key[i] == list(one.missing_key_features)
    assert (scores.threshold, scores.model_version) == (model.threshold, model.version)


def test_column_rows_are_the_rows_of_the_same_records(model: ScoringModel) -> None:
    """A columnar batch (any subset and order of features) gives the matrix of its records."""
    names = model.feature_names
    x = model.reference[names].to_numpy(dtype="float64")[:6].copy()
    x[::2, 3] = np.nan
    given = names[::-2]  # every other feature, in reverse order
    records = [
        {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, row, strict=True)
         if n in given}
        for row in x
    ]  # fmt: skip
    columns = {n: x[:, names.index(n)] for n in given}
    np.testing.assert_array_equal(model.column_rows(columns, 6).matrix, model.rows(records).matrix)
    assert model.column_rows({}, 0).matrix.shape == (0, len(names))


def test_column_rows_refuse_naming_the_feature_and_the_record(model: ScoringModel) -> None:
    a = model.feature_names[0]
    ok = float(model.reference[a].dropna().iloc[0])
    with pytest.raises(UnknownFeatureError, match="NOPE"):
        model.column_rows({"NOPE": np.ones(2)}, 2)
    with pytest.raises(InvalidFeatureValueError, match=f"feature {a}: 3 values for 2 records"):
        model.column_rows({a: np.ones(3)}, 2)
    with pytest.raises(InvalidFeatureValueError, match=f"feature {a}: record 1: must be a finite"):
        model.column_rows({a: np.array([ok, -np.inf])}, 2)
    with pytest.raises(ImplausibleValueError, match=f"^record 2: {a}: -5 is outside"):
        model.column_rows({a: np.array([ok, np.nan, -5.0])}, 3)
