"""A served model as a weighted sum in log-odds: LightGBM boosters and an optional scorecard.

    raw(x) = intercept + sum_i w_i * booster_i.raw(x) + w_s * scorecard.raw(x)
    probability = sigmoid(raw(x))

One LightGBM booster with weight 1 and no intercept is today's model; seed bags, blends with
the scorecard and Platt-calibrated models are the same object with other members. SHAP values
stay exact because the combination is linear in log-odds: the contributions are the weighted
sum of each member's exact SHAP (TreeSHAP per booster, the linear scorecard's own), and the
intercept joins the base value, so base + contributions == raw score for every row.

Saved as plain files (one LightGBM text model per booster and one JSON), so a bundle can hold it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from scoring.errors import BundleError
from scoring.scorecard import Scorecard

ENSEMBLE_FILE = "ensemble.json"
FORMAT = 1


def booster_file(index: int) -> str:
    return f"booster-{index}.txt"


def _rows(X: np.ndarray) -> np.ndarray:
    matrix = np.ascontiguousarray(X, dtype="float64")
    return matrix.reshape(1, -1) if matrix.ndim == 1 else matrix


@dataclass
class Ensemble:
    feature_names: list[str]
    boosters: list[lgb.Booster] = field(default_factory=list)
    booster_weights: list[float] = field(default_factory=list)
    scorecard: Scorecard | None = None
    scorecard_weight: float = 0.0
    intercept: float = 0.0

    def __post_init__(self) -> None:
        if len(self.boosters) != len(self.booster_weights):
            raise ValueError("one weight per booster")
        if not self.boosters and self.scorecard is None:
            raise ValueError("an ensemble needs at least one member")

    def predict_raw(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """Log-odds of default for model-ready rows (2-D, or one 1-D row)."""
        matrix = _rows(X)
        raw = np.full(len(matrix), self.intercept)
        for booster, weight in zip(self.boosters, self.booster_weights, strict=True):
            raw += weight * np.asarray(
                booster.predict(matrix, raw_score=True, num_threads=threads), dtype="float64"
            )
        if self.scorecard is not None:
            raw += self.scorecard_weight * self.scorecard.predict_raw(matrix)
        return raw

    def predict_proba(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.predict_raw(X, threads)))

    def contributions(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """Exact SHAP (rows, features + 1) in log-odds; the last column is the base value."""
        matrix = _rows(X)
        total = np.zeros((len(matrix), len(self.feature_names) + 1))
        total[:, -1] = self.intercept
        for booster, weight in zip(self.boosters, self.booster_weights, strict=True):
            contrib = booster.predict(matrix, pred_contrib=True, num_threads=threads)
            total += weight * np.asarray(contrib, dtype="float64")
        if self.scorecard is not None:
            total += self.scorecard_weight * self.scorecard.contributions(matrix)
        return total

    def describe(self) -> dict[str, Any]:
        """Members and weights, for a model card (no model internals)."""
        return {
            "boosters": len(self.boosters),
            "trees": [b.num_trees() for b in self.boosters],
            "booster_weights": list(self.booster_weights),
            "scorecard": self.scorecard is not None,
            "scorecard_weight": self.scorecard_weight,
            "intercept": self.intercept,
        }

    def save(self, folder: Path) -> list[str]:
        """Write ensemble.json and one text model per booster into `folder`; the file names."""
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for index, booster in enumerate(self.boosters):
            booster.save_model(str(folder / booster_file(index)))
            names.append(booster_file(index))
        state = {
            "format": FORMAT,
            "feature_names": self.feature_names,
            "booster_files": names,
            "booster_weights": self.booster_weights,
            "scorecard": self.scorecard.to_dict() if self.scorecard else None,
            "scorecard_weight": self.scorecard_weight,
            "intercept": self.intercept,
        }
        (folder / ENSEMBLE_FILE).write_text(
            json.dumps(state, indent=1, allow_nan=False), encoding="utf-8"
        )
        return [ENSEMBLE_FILE, *names]

    @classmethod
    def load(cls, folder: Path) -> Ensemble:
        path = folder / ENSEMBLE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BundleError(f"{path}: cannot be read ({type(exc).__name__})") from exc
        if state.get("format") != FORMAT:
            raise BundleError(f"{path}: unknown ensemble format {state.get('format')!r}")
        boosters = []
        for name in state["booster_files"]:
            try:
                boosters.append(lgb.Booster(model_file=str(folder / name)))
            except lgb.basic.LightGBMError as exc:
                raise BundleError(f"{folder / name}: not a LightGBM model") from exc
        names = list(state["feature_names"])
        for name, booster in zip(state["booster_files"], boosters, strict=True):
            if booster.feature_name() != names:
                raise BundleError(f"{folder / name}: features differ from {ENSEMBLE_FILE}")
        scorecard = Scorecard.from_dict(state["scorecard"]) if state["scorecard"] else None
        return cls(
            feature_names=names,
            boosters=boosters,
            booster_weights=[float(w) for w in state["booster_weights"]],
            scorecard=scorecard,
            scorecard_weight=float(state["scorecard_weight"]),
            intercept=float(state["intercept"]),
        )


def single(booster: lgb.Booster) -> Ensemble:
    """Today's served form: one booster, weight 1."""
    return Ensemble(list(booster.feature_name()), [booster], [1.0])


def trimmed(booster: lgb.Booster, iterations: int) -> lgb.Booster:
    """A copy holding only the first `iterations` trees: what is served is what was validated,
    and the trees grown past the early-stopping optimum cost nothing at serving time."""
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=iterations))
