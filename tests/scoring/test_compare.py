"""Model comparison: one split for every candidate, honest fits, the winner rule, the report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scoring import candidates as registry
from scoring.candidates import Candidate, FitContext, Predictor
from scoring.compare import (
    INCUMBENT,
    CandidateResult,
    CompareOptions,
    Comparison,
    choose,
    compare,
    evaluate_candidate,
    folds_digest,
    protected_features,
    selected,
)
from scoring.compare_report import (
    CHOICE_FILE,
    COMPARISON_FILE,
    COST_FILE,
    FAIRNESS_FILE,
    REPORT_FILE,
    ROC_FILE,
    compared_with,
    margin,
    write_report,
)
from scoring.cost import CostWeights
from scoring.data import validate_application
from scoring.demo_data import generate_demo
from scoring.errors import UnknownCandidateError
from scoring.fairness import sensitive_groups
from scoring.features import FeatureBuilder
from scoring.schema import TARGET
from scoring.selection import incumbent_cv
from scoring.train import TrainConfig, cross_validate, fold_indices

FOLDS = 3
CONFIG = TrainConfig(folds=FOLDS, n_estimators=30, early_stopping_rounds=10, threads=1)
CONTEXT = FitContext(CONFIG, trials=2, inner_folds=2)
REQUIRED = ["model", "auc_mean", "auc_std", "business_cost", "threshold", "brier"]
REQUIRED += ["fit_seconds", "predict_ms", "recall", "precision", "fold_auc"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    train, _ = generate_demo(700, 10, seed=5)
    return validate_application(train, "application_train", with_target=True)


@pytest.fixture(scope="module")
def run(table: pd.DataFrame) -> dict[str, Any]:
    """The whole comparison once, every candidate's fit wrapped to record the rows it got."""
    builder = FeatureBuilder().fit(table)
    X = builder.transform(table)
    y = table[TARGET].to_numpy("int64")
    seen: dict[str, list[np.ndarray]] = {}

    def spy(candidate: Candidate) -> Candidate:
        def fit(
            rows: pd.DataFrame, target: np.ndarray, cat: list[str], ctx: FitContext
        ) -> Predictor:
            seen.setdefault(candidate.name, []).append(rows.index.to_numpy())
            return candidate.fit(rows, target, cat, ctx)

        return replace(candidate, fit=fit)

    options = CompareOptions(folds=FOLDS, seed=0, context=CONTEXT)
    with pytest.MonkeyPatch.context() as patch:
        for name, candidate in list(registry.CANDIDATES.items()):
            patch.setitem(registry.CANDIDATES, name, spy(candidate))
        result = compare(
            X, y, builder.categorical_features, builder.sources(), sensitive_groups(table), options
        )
    return {"comparison": result, "seen": seen, "X": X, "y": y, "builder": builder}


@pytest.mark.slow
def test_every_candidate_runs_on_the_same_folds(run: dict[str, Any]) -> None:
    comparison: Comparison = run["comparison"]
    X, y = run["X"], run["y"]
    splits = fold_indices(y, FOLDS, 0)
    assert [r.model for r in comparison.results] == list(registry.CANDIDATES)
    assert {r.folds_sha256 for r in comparison.results} == {folds_digest(splits)}
    ids = X.index.to_numpy()
    expected = [ids[train_idx] for train_idx, _ in splits]
    for name in registry.CANDIDATES:
        # The first FOLDS fits of each candidate are its fold fits, on exactly these rows.
        got = run["seen"][name][:FOLDS]
        assert len(got) == FOLDS
        for fold, (rows, (_, valid_idx)) in enumerate(zip(got, splits, strict=True)):
            np.testing.assert_array_equal(rows, expected[fold])
            assert not set(rows) & set(ids[valid_idx])  # never a held-out row


@pytest.mark.slow
def test_lightgbm_candidate_is_exactly_what_train_does(run: dict[str, Any]) -> None:
    X, y, builder = run["X"], run["y"], run["builder"]
    cv = cross_validate(X, y, builder.categorical_features, CONFIG)
    result = run["comparison"].result(INCUMBENT)
    np.testing.assert_allclose(result.oof, cv.oof, rtol=0, atol=1e-12)
    assert result.fold_auc == pytest.approx(cv.fold_auc)


@pytest.mark.slow
def test_train_reuses_the_comparisons_lightgbm_folds_exactly(run: dict[str, Any]) -> None:
    """`train` with a LightGBM default takes its CV from the comparison's cached fold fits:
    the same out-of-fold probabilities, fold AUCs and best iterations as its own CV."""
    X, y, builder = run["X"], run["y"], run["builder"]
    cv = cross_validate(X, y, builder.categorical_features, CONFIG)
    hits = CONTEXT.cache.hits
    reused = incumbent_cv(X, y, builder.categorical_features, CONTEXT)
    assert CONTEXT.cache.hits - hits == FOLDS  # no fold was refit
    np.testing.assert_array_equal(reused.oof, cv.oof)
    assert reused.fold_auc == cv.fold_auc
    assert reused.best_iterations == cv.best_iterations


@pytest.mark.slow
def test_shared_fits_leave_every_result_unchanged(run: dict[str, Any]) -> None:
    """The blend on a fresh context (nothing cached) predicts exactly what it predicted when
    its LightGBM, scorecard and L2 strength came from the other candidates' fits."""
    X, y, builder = run["X"], run["y"], run["builder"]
    splits = fold_indices(y, FOLDS, 0)
    fresh = FitContext(CONFIG, trials=2, inner_folds=2)
    alone, _ = evaluate_candidate(
        registry.CANDIDATES["blend"], X, y, builder.categorical_features, splits, fresh,
        CostWeights(),
    )  # fmt: skip
    np.testing.assert_array_equal(alone.oof, run["comparison"].result("blend").oof)


@pytest.mark.slow
def test_results_have_the_documented_fields_and_sane_values(run: dict[str, Any]) -> None:
    comparison: Comparison = run["comparison"]
    y = run["y"]
    for r in comparison.results:
        d = r.to_dict()
        assert set(REQUIRED) <= set(d)
        assert len(d["fold_auc"]) == len(d["fold_cost"]) == FOLDS
        assert d["auc_mean"] == pytest.approx(np.mean(d["fold_auc"]))
        assert 0 <= d["business_cost"] <= 10 * y.mean() + 1e-9  # never worse than accept-all
        assert 0 < d["threshold"] <= 1
        assert d["predict_ms"] > 0
        assert d["fit_seconds"] >= 0
        assert (d["explain_ms"] is not None) == d["servable"]
    dummy = comparison.result("dummy")
    assert dummy.auc_mean == 0.5
    assert dummy.business_cost == pytest.approx(10 * y.mean())  # refusing no one is best


@pytest.mark.slow
def test_fairness_and_the_gender_age_ablation(run: dict[str, Any]) -> None:
    comparison: Comparison = run["comparison"]
    fairness = comparison.fairness
    default = comparison.choice.default
    assert set(fairness["models"]) == {default, INCUMBENT}
    report = fairness["models"][default]
    assert report["threshold"] == comparison.result(default).threshold
    assert set(report["attributes"]) == {"CODE_GENDER", "AGE_BAND"}
    genders = {g["group"] for g in report["attributes"]["CODE_GENDER"]["groups"]}
    assert {"F", "M"} <= genders
    assert fairness["are_model_inputs"] == {"CODE_GENDER": True, "DAYS_BIRTH": True}
    assert "AGE_YEARS" in fairness["removed_features"]
    assert "GENDER_MALE" in fairness["removed_features"]
    ablation = fairness["without_gender_and_age"][INCUMBENT]
    assert ablation["auc_mean_with"] == comparison.result(INCUMBENT).auc_mean
    assert ablation["auc_change"] == pytest.approx(
        ablation["auc_mean_without"] - ablation["auc_mean_with"]
    )


def test_protected_features_follow_the_sources() -> None:
    sources = {"AGE_YEARS": ["DAYS_BIRTH"], "X": ["AMT_CREDIT"], "GENDER_MALE": ["CODE_GENDER"]}
    assert protected_features(sources) == {
        "CODE_GENDER": ["GENDER_MALE"],
        "DAYS_BIRTH": ["AGE_YEARS"],
    }


@pytest.mark.slow
def test_report_files(run: dict[str, Any], tmp_path: Path) -> None:
    comparison: Comparison = run["comparison"]
    comparison.meta = {"rows": 700, "defaults": int(run["y"].sum()), "folds": FOLDS, "seed": 0}
    comparison.meta |= {"fn_cost": 10.0, "fp_cost": 1.0, "command": "test"}
    paths = write_report(comparison, tmp_path, CostWeights())
    assert sorted(p.name for p in paths) == sorted(
        [COMPARISON_FILE, CHOICE_FILE, FAIRNESS_FILE, REPORT_FILE, ROC_FILE, COST_FILE]
    )
    rows = json.loads((tmp_path / COMPARISON_FILE).read_text(encoding="utf-8"))
    assert isinstance(rows, list)
    assert [r["model"] for r in rows] == [r.model for r in comparison.results]
    choice = json.loads((tmp_path / CHOICE_FILE).read_text(encoding="utf-8"))
    assert choice["default"] == comparison.choice.default
    assert choice["rule"].startswith("Among servable candidates")
    for png in (ROC_FILE, COST_FILE):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    assert f"Winner: **{comparison.choice.winner}**" in text
    assert "CODE_GENDER: demographic-parity difference" in text
    for r in comparison.results:
        assert f"| {r.model} | {r.auc_mean:.4f} ± {r.auc_std:.4f} |" in text


def _result(model: str, cost: float, auc: float, folds: list[float], **kw: Any) -> CandidateResult:
    fields: dict[str, Any] = {
        "description": model,
        "servable": True,
        "fold_auc": [auc] * len(folds),
        "fold_cost": folds,
        "auc": auc,
        "business_cost": cost,
        "threshold": 0.1,
        "recall": 0.5,
        "precision": 0.2,
        "refusal_rate": 0.3,
        "brier": 0.07,
        "fit_seconds": 1.0,
        "predict_ms": 0.1,
        "explain_ms": 1.0,
        "folds_sha256": "x",
        "oof": np.zeros(3),
    }
    return CandidateResult(model=model, **(fields | kw))


def test_winner_rule_lowest_cost_among_servable_within_budget() -> None:
    incumbent = _result(INCUMBENT, 0.60, 0.72, [0.6, 0.6, 0.6])
    cheaper = _result("card", 0.50, 0.70, [0.5, 0.5, 0.7])
    not_servable = _result("forest", 0.40, 0.75, [0.4] * 3, servable=False, explain_ms=None)
    too_slow = _result("bag", 0.45, 0.74, [0.45] * 3, explain_ms=2.01)
    choice = choose([incumbent, cheaper, not_servable, too_slow])
    assert (choice.winner, choice.default, choice.folds_won) == ("card", "card", 2)
    assert choice.eligible == [INCUMBENT, "card"]


def test_winner_rule_ties_go_to_the_higher_auc() -> None:
    incumbent = _result(INCUMBENT, 0.60, 0.72, [0.6] * 3)
    a = _result("a", 0.50, 0.70, [0.5] * 3)
    b = _result("b", 0.50 + 1e-12, 0.71, [0.5] * 3)
    assert choose([incumbent, a, b]).winner == "b"


def test_a_winner_not_confirmed_by_the_folds_does_not_become_the_default() -> None:
    incumbent = _result(INCUMBENT, 0.60, 0.72, [0.55, 0.55, 0.70])
    lucky = _result("lucky", 0.58, 0.72, [0.56, 0.56, 0.62])  # cheaper overall, on 1 fold of 3
    choice = choose([incumbent, lucky])
    assert (choice.winner, choice.default, choice.folds_won) == ("lucky", INCUMBENT, 1)
    assert "stays the default" in choice.reason


def test_the_incumbent_keeps_the_title_when_it_is_cheapest() -> None:
    incumbent = _result(INCUMBENT, 0.50, 0.72, [0.5] * 3)
    choice = choose([incumbent, _result("other", 0.55, 0.75, [0.55] * 3)])
    assert (choice.winner, choice.default) == (INCUMBENT, INCUMBENT)
    with pytest.raises(ValueError, match="incumbent"):
        choose([_result("other", 0.55, 0.75, [0.55] * 3)])


def test_margin_says_when_a_difference_is_within_the_noise() -> None:
    base = _result("base", 0.60, 0.72, [0.60, 0.60, 0.60])
    steady = _result("steady", 0.50, 0.75, [0.50, 0.51, 0.49])
    noisy = _result("noisy", 0.58, 0.73, [0.40, 0.75, 0.59])
    assert margin(steady, base)["beyond_noise"] is True
    assert margin(steady, base)["folds_cheaper"] == 3
    assert margin(noisy, base)["beyond_noise"] is False


def test_selected_always_includes_the_incumbent_and_rejects_unknown_names() -> None:
    assert [c.name for c in selected(["scorecard"])] == ["scorecard", INCUMBENT]
    assert [c.name for c in selected([])] == list(registry.CANDIDATES)
    with pytest.raises(UnknownCandidateError, match="unknown models: nope"):
        selected(["nope", "scorecard"])


def test_the_winner_is_measured_against_scorecard_incumbent_and_runner_up() -> None:
    results = [
        _result("scorecard", 0.55, 0.73, [0.55] * 3),
        _result(INCUMBENT, 0.60, 0.72, [0.60] * 3),
        _result("blend", 0.50, 0.74, [0.50] * 3),
        _result("bag", 0.52, 0.74, [0.52] * 3),
        _result("slow", 0.51, 0.74, [0.51] * 3, explain_ms=5.0),  # out of the serving budget
    ]
    comparison = Comparison(results, choose(results), {}, np.zeros(3))
    assert comparison.choice.winner == "blend"
    assert compared_with(comparison) == ["scorecard", INCUMBENT, "bag"]
    lone = Comparison(results[1:2], choose(results[1:2]), {}, np.zeros(3))
    assert compared_with(lone) == []
