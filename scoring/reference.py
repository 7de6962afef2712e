"""Reference population statistics: feature distributions by class and the reference sample.

The bundle keeps a (capped, stratified) sample of the training rows with their features, the
true outcome and the out-of-fold probability. Distributions, scatter plots and neighbours are
computed from it, so any bin count can be served without keeping the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from scoring.decision import refused
from scoring.schema import TARGET

PROBABILITY = "probability"
DEFAULT_REFERENCE_ROWS = 100_000
SUMMARY_BINS = 20
By = Literal["target", "prediction"]


@dataclass(frozen=True)
class Distribution:
    bin_edges: list[float]
    counts_0: list[int]
    counts_1: list[int]
    missing_0: int
    missing_1: int


def reference_sample(
    features: pd.DataFrame,
    target: np.ndarray,
    oof: np.ndarray,
    max_rows: int = DEFAULT_REFERENCE_ROWS,
    seed: int = 0,
) -> pd.DataFrame:
    """Training rows (float32 features, TARGET, out-of-fold probability), stratified if capped."""
    frame = features.astype("float32")
    frame.insert(0, PROBABILITY, oof.astype("float64"))
    frame.insert(0, TARGET, target.astype("int8"))
    if len(frame) <= max_rows:
        return frame
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for cls in (0, 1):
        positions = np.flatnonzero(target == cls)
        share = round(max_rows * len(positions) / len(frame))
        keep.append(rng.choice(positions, size=share, replace=False))
    return frame.iloc[np.sort(np.concatenate(keep))]


def _edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins over the 0.5-99.5 % range, so one outlier does not flatten the plot."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    low, high = np.quantile(finite, [0.005, 0.995])
    if low == high:
        low, high = float(finite.min()), float(finite.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def distribution(values: np.ndarray, classes: np.ndarray, bins: int) -> Distribution:
    """Histogram counts of `values` for class 0 and class 1, outliers clipped into the end bins."""
    edges = _edges(values, bins)
    clipped = np.clip(values, edges[0], edges[-1])
    counts = []
    missing = []
    for cls in (0, 1):
        selected = clipped[classes == cls]
        present = selected[np.isfinite(selected)]
        counts.append(np.histogram(present, bins=edges)[0].astype(int).tolist())
        missing.append(int(selected.size - present.size))
    return Distribution(edges.tolist(), counts[0], counts[1], missing[0], missing[1])


def classes_for(reference: pd.DataFrame, by: By, threshold: float) -> np.ndarray:
    """Class of each reference row: its true outcome, or the decision the model would take."""
    if by == "target":
        return reference[TARGET].to_numpy()
    return refused(reference[PROBABILITY].to_numpy(), threshold).astype("int8")


def summary_statistics(
    reference: pd.DataFrame, feature_names: list[str], threshold: float
) -> dict[str, Any]:
    """Per-feature summary stored in the bundle: histograms by class, quantiles, missing rate."""
    out: dict[str, Any] = {"bins": SUMMARY_BINS, "features": {}}
    by_target = classes_for(reference, "target", threshold)
    by_prediction = classes_for(reference, "prediction", threshold)
    for name in feature_names:
        values = reference[name].to_numpy(dtype="float64")
        finite = values[np.isfinite(values)]
        quantiles = (
            np.quantile(finite, [0.01, 0.25, 0.5, 0.75, 0.99]).tolist() if finite.size else []
        )
        out["features"][name] = {
            "missing_rate": float(1 - finite.size / max(values.size, 1)),
            "quantiles": quantiles,
            "by_target": distribution(values, by_target, SUMMARY_BINS).__dict__,
            "by_prediction": distribution(values, by_prediction, SUMMARY_BINS).__dict__,
        }
    return out
