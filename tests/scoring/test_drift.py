"""Data drift (scoring/drift.py, scoring/drift_report.py, python -m scoring drift): Evidently's
default tests on the demo bundle's reference, against the demo new clients as they are and
shifted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scoring.cli import main
from scoring.clients import ClientBase
from scoring.drift import compare, feature_drift, reference_features
from scoring.errors import BundleError
from scoring.model import ScoringModel

SHIFTED = ["AMT_INCOME_TOTAL", "EXT_SOURCE_2"]
# features computed from the shifted raw columns (scoring/features.py)
DERIVED = ["INCOME_PER_PERSON", "ANNUITY_INCOME_RATIO", "CREDIT_INCOME_RATIO", "EXT_SOURCE_MEAN"]


def _categorical(model: ScoringModel) -> set[str]:
    return {f.name for f in model.metadata.features if f.dtype == "category"}


def _shifted(applications: pd.DataFrame) -> pd.DataFrame:
    """The new clients earning 60 % more, with external scores 40 % lower."""
    shifted = applications.copy()
    shifted["AMT_INCOME_TOTAL"] = shifted["AMT_INCOME_TOTAL"] * 1.6
    shifted["EXT_SOURCE_2"] = shifted["EXT_SOURCE_2"] * 0.6
    return shifted


@pytest.fixture(scope="module")
def reference(model: ScoringModel) -> pd.DataFrame:
    return reference_features(model.reference, model.feature_names)


def test_unshifted_new_clients_do_not_drift(
    model: ScoringModel, client_base: ClientBase, reference: pd.DataFrame
) -> None:
    report = compare(reference, client_base.features(), _categorical(model))
    assert report.dataset_drift is False
    assert report.share_drifted < report.drift_share == 0.5
    assert not set(SHIFTED + DERIVED) & set(report.drifted)
    # over 1000 known reference values: the distance tests; at most 1000: p-values
    for f in report.features:
        known = int(reference[f.feature].notna().sum())
        distances = {"wasserstein", "jensenshannon"}
        assert (f.test in distances) == (known > 1000), f.feature


def test_shifted_new_clients_drift_and_the_shifted_features_are_named(
    model: ScoringModel, client_base: ClientBase, reference: pd.DataFrame
) -> None:
    current = client_base.features(_shifted(client_base.applications))
    report = compare(reference, current, _categorical(model))
    assert set(SHIFTED + DERIVED) <= set(report.drifted)
    by_name = {f.feature: f for f in report.features}
    income = by_name["AMT_INCOME_TOTAL"]
    assert income.test == "wasserstein"
    assert income.threshold == 0.1
    assert income.distance is not None
    assert income.distance >= 0.1
    assert income.score > 1
    # an untouched feature stays put
    assert "AGE_YEARS" not in report.drifted


def test_dataset_drift_when_half_the_features_move(
    model: ScoringModel, client_base: ClientBase, reference: pd.DataFrame
) -> None:
    current = client_base.features()
    numerical = [c for c in current.columns if c not in _categorical(model)]
    moved = current.copy()
    moved[numerical] = moved[numerical] + reference[numerical].std() * 0.5
    report = compare(reference, moved, _categorical(model))
    assert report.dataset_drift is True
    assert report.share_drifted >= 0.5
    assert report.share_drifted == len(report.drifted) / report.tested


def test_small_reference_uses_p_value_tests(
    model: ScoringModel, client_base: ClientBase, reference: pd.DataFrame
) -> None:
    small = reference.sample(800, random_state=0)
    current = client_base.features(_shifted(client_base.applications)).sample(300, random_state=0)
    report = compare(small, current, _categorical(model))
    by_name = {f.feature: f for f in report.features}
    assert by_name["AMT_INCOME_TOTAL"].test == "ks"
    assert by_name["AMT_INCOME_TOTAL"].drifted
    assert by_name["GENDER_MALE"].test == "z"  # two values
    assert by_name["NAME_FAMILY_STATUS"].test == "chisquare"  # a category
    assert all(f.threshold == 0.05 for f in report.features if f.test != "not_tested")


def test_the_tests_match_scipy_and_evidently_rules() -> None:
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(0, 1, 500), rng.normal(0.3, 1, 400)
    ks = feature_drift("x", ref, cur, "numerical")
    expected = stats.ks_2samp(ref, cur)
    assert (ks.test, ks.statistic, ks.p_value) == ("ks", expected.statistic, expected.pvalue)
    assert ks.drifted == (expected.pvalue < 0.05)

    big = rng.normal(10, 2, 2000)
    shifted = rng.normal(10.5, 2, 300)
    wd = feature_drift("x", big, shifted, "numerical")
    assert wd.test == "wasserstein"
    assert wd.distance == pytest.approx(stats.wasserstein_distance(big, shifted) / np.std(big))
    assert wd.drifted == (wd.distance is not None and wd.distance >= 0.1)

    codes = rng.integers(0, 4, 2000).astype(float)
    same = feature_drift("c", codes, rng.integers(0, 4, 500).astype(float), "categorical")
    assert same.test == "jensenshannon"
    assert not same.drifted
    other = feature_drift("c", codes, np.zeros(500), "categorical")
    assert other.drifted
    assert other.distance is not None
    assert other.distance > 0.1

    flags, flags_cur = (rng.random(600) < 0.3).astype(float), (rng.random(300) < 0.6).astype(float)
    z = feature_drift("f", flags, flags_cur, "numerical")
    pooled = (flags.sum() + flags_cur.sum()) / 900
    statistic = (flags.mean() - flags_cur.mean()) / math.sqrt(
        pooled * (1 - pooled) * (1 / 600 + 1 / 300)
    )
    assert z.test == "z"
    assert z.p_value == pytest.approx(2 * stats.norm.sf(abs(statistic)))
    assert z.drifted


def test_missing_values_are_dropped_and_an_empty_side_is_not_tested() -> None:
    ref = np.array([np.nan] * 100 + list(np.linspace(0, 1, 900)))
    result = feature_drift("x", ref, np.linspace(0, 1, 200), "numerical")
    assert result.test == "ks"  # 900 values after the missing ones are dropped
    assert result.missing_reference == pytest.approx(0.1)
    empty = feature_drift("x", ref, np.full(50, np.nan), "numerical")
    assert empty.test == "not_tested"
    assert not empty.drifted
    assert empty.missing_current == 1.0


def test_reference_without_the_model_features_needs_a_newer_bundle(model: ScoringModel) -> None:
    with pytest.raises(BundleError, match="drift needs a bundle written by this version"):
        reference_features(model.reference.drop(columns=["EXT_SOURCE_2"]), model.feature_names)


def test_reference_is_capped_the_same_way_every_time(model: ScoringModel) -> None:
    a = reference_features(model.reference, model.feature_names, max_rows=500)
    b = reference_features(model.reference, model.feature_names, max_rows=500)
    assert len(a) == 500
    assert a.equals(b)
    assert list(a.columns) == model.feature_names  # features only: no target, no ids


def test_cli_writes_drift_json_and_a_self_contained_html(
    demo_bundle: Path, client_base: ClientBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = tmp_path / "application_test.csv"
    _shifted(client_base.applications).to_csv(current, index=False)
    out = tmp_path / "drift"
    code = main(
        ["drift", "--bundle", str(demo_bundle), "--current", str(current), "--out", str(out)]
    )
    assert code == 0
    data = json.loads((out / "drift.json").read_text(encoding="utf-8"))
    assert {"dataset_drift", "share_drifted", "drifted", "features"} <= set(data)
    assert set(SHIFTED) <= set(data["drifted"])
    income = next(f for f in data["features"] if f["feature"] == "AMT_INCOME_TOTAL")
    assert {"test", "statistic", "p_value", "distance", "threshold", "drifted"} <= set(income)
    assert income["drifted"] is True
    assert income["test"] == "wasserstein"
    page = (out / "drift.html").read_text(encoding="utf-8")
    assert "<script src=" not in page  # plotly.js inlined, no CDN
    assert "AMT_INCOME_TOTAL" in page
    assert "Plotly.newPlot" in page
    assert "features drifted" in capsys.readouterr().out


def test_cli_refuses_an_out_that_is_a_file(
    demo_bundle: Path, demo_clients: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "file"
    out.write_text("x", encoding="utf-8")
    args = ["drift", "--bundle", str(demo_bundle), "--current", str(demo_clients)]
    assert main([*args, "--out", str(out)]) == 2
    assert "--out must be a folder" in capsys.readouterr().err
