"""The default model is the comparison's winner, served from the bundle and exactly explainable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scoring.bundle import ENSEMBLE_DIR, MODEL_FILE, load_bundle, save_bundle
from scoring.candidates import fit_scorecard
from scoring.cli import main
from scoring.demo_data import write_demo
from scoring.model import ScoringModel, sigmoid
from scoring.schema import TARGET
from scoring.train import TrainConfig

FAST = ["--folds", "3", "--n-estimators", "60", "--no-mlflow", "--quiet"]


@pytest.fixture(scope="module")
def chosen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained by the command with the blend and the scorecard as candidates."""
    root = tmp_path_factory.mktemp("selection")
    write_demo(root / "data", rows=3000, seed=0)
    out = root / "bundle"
    assert main(["train", "--data", str(root / "data"), "--out", str(out), *FAST,
                 "--candidates", "scorecard", "blend"]) == 0  # fmt: skip
    return out


@pytest.fixture(scope="module")
def scorecard_bundle(chosen: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same bundle serving a scorecard fit on its reference rows (a scorecard default)."""
    bundle = load_bundle(chosen)
    names = bundle.builder.feature_names
    rows = bundle.reference
    context_config = TrainConfig(folds=2, seed=0)
    from scoring.candidates import FitContext

    card = fit_scorecard(
        rows[names], rows[TARGET].to_numpy(dtype="int64"), bundle.builder.categorical_features,
        FitContext(context_config, inner_folds=2),
    )  # fmt: skip
    bundle.ensemble, bundle.booster = card, None
    return save_bundle(bundle, tmp_path_factory.mktemp("scorecard") / "bundle")


def test_the_trained_model_is_the_comparisons_default(chosen: Path) -> None:
    card = json.loads((chosen / "model_card.json").read_text())
    metadata = json.loads((chosen / "metadata.json").read_text())
    default = card["choice"]["default"]
    assert card["model"] == default
    assert {r["model"] for r in card["comparison"]} == {"lightgbm", "scorecard", "blend"}
    row = next(r for r in card["comparison"] if r["model"] == default)
    # the bundle's threshold and AUC are the winner's out-of-fold figures on the same folds
    assert metadata["threshold"] == pytest.approx(row["threshold"])
    assert metadata["metrics"]["auc"] == pytest.approx(row["auc_oof"])
    assert metadata["cv"]["fold_auc"] == pytest.approx(row["fold_auc"])
    assert (chosen / ENSEMBLE_DIR).is_dir() == (default != "lightgbm")
    assert (chosen / MODEL_FILE).is_file() == (default == "lightgbm")
    assert ScoringModel.load(chosen).model_name == default
    assert card["fairness"]["threshold"] == pytest.approx(metadata["threshold"])


def test_demo_data_picks_the_blend(chosen: Path) -> None:
    """On these rows the blend wins all folds (measured): the bundle serves an ensemble."""
    model = ScoringModel.load(chosen)
    assert model.model_name == "blend"
    assert model.booster is None
    assert model.ensemble.scorecard is not None
    assert len(model.ensemble.boosters) == 1


@pytest.mark.parametrize("fixture", ["chosen", "scorecard_bundle"])
def test_served_shap_adds_up_to_the_served_score(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    model = ScoringModel.load(request.getfixturevalue(fixture))
    X = model.reference[model.feature_names].to_numpy(dtype="float64")[:50]
    X[::7, ::3] = np.nan  # missing values too
    raw = model.ensemble.predict_raw(X)
    contributions = model.contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=1), raw, rtol=0, atol=1e-9)
    for x in X[:10]:
        explanation, score = model.explain(x), model.score(x)
        assert explanation.base_value + explanation.shap.sum() == pytest.approx(
            explanation.raw_score, abs=1e-9
        )
        assert abs(explanation.probability - score.probability) < 1e-9
        assert abs(sigmoid(explanation.raw_score) - score.probability) < 1e-9


def test_a_scorecard_bundle_round_trips(scorecard_bundle: Path) -> None:
    model = ScoringModel.load(scorecard_bundle)
    assert model.booster is None
    assert model.ensemble.boosters == []
    assert not (scorecard_bundle / MODEL_FILE).exists()


def test_a_changed_ensemble_file_is_refused(chosen: Path, tmp_path: Path) -> None:
    copy = save_bundle(load_bundle(chosen), tmp_path / "copy")
    state = copy / ENSEMBLE_DIR / "ensemble.json"
    state.write_text(state.read_text() + "\n")
    from scoring.errors import BundleError

    with pytest.raises(BundleError, match=r"ensemble/ensemble\.json (is truncated|was modified)"):
        load_bundle(copy)


def test_a_model_that_cannot_be_served_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "b"), *FAST,
                 "--candidates", "random_forest"])  # fmt: skip
    assert code == 2
    assert "not servable as the default: random_forest" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
