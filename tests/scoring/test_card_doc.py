"""docs/model-card.md is generated from the bundle and stays in sync with its committed source."""

from __future__ import annotations

import json
from pathlib import Path

from scoring.bundle import load_bundle
from scoring.card_doc import render, source
from scoring.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_model_card_is_regenerated_identically() -> None:
    src = json.loads((DOCS / "model-card.json").read_text(encoding="utf-8"))
    assert render(src) == (DOCS / "model-card.md").read_text(encoding="utf-8")


def test_committed_card_has_the_real_sample_comparison_with_auc_std() -> None:
    src = json.loads((DOCS / "model-card.json").read_text(encoding="utf-8"))
    models = {row["model"] for row in src["card"]["comparison"]}
    assert {"lightgbm", "scorecard", src["model"]} <= models
    assert src["cv"]["folds"] == 5
    text = (DOCS / "model-card.md").read_text(encoding="utf-8")
    for row in src["card"]["comparison"]:
        assert f"{row['auc_mean']:.4f} ± {row['auc_std']:.4f}" in text


def test_command_writes_the_card_of_a_bundle(demo_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "card.md"
    assert main(["model-card", "--bundle", str(demo_bundle), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    bundle = load_bundle(demo_bundle)
    assert render(source(bundle)) == text
    for heading in ["## Data", "## Features", "## Metrics (out of fold)",
                    "## Threshold and its cost reasoning", "## Comparison", "## Fairness",
                    "## Limits"]:  # fmt: skip
        assert heading in text
    assert f"threshold **{bundle.metadata.threshold:.4f}**" in text
    assert json.loads(out.with_suffix(".json").read_text())["version"] == bundle.metadata.version


def test_a_bundle_without_card_says_so(demo_bundle: Path) -> None:
    bundle = load_bundle(demo_bundle)
    bundle.card = None
    assert "This bundle predates model cards: no comparison." in render(source(bundle))
