"""PNG figures of a model comparison: ROC curves and business cost against the threshold."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_curve

from scoring.cost import CostWeights
from scoring.decision import refused as refused_by


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # files only: never a window, works headless
    import matplotlib.pyplot as plt

    return plt


def cost_curve(
    y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray, weights: CostWeights
) -> np.ndarray:
    """Business cost per client at each threshold (refuse when proba >= threshold)."""
    truth = np.asarray(y).astype(bool)
    refused = refused_by(np.asarray(proba)[None, :], thresholds[:, None])
    fn = (truth[None, :] & ~refused).sum(axis=1)
    fp = (~truth[None, :] & refused).sum(axis=1)
    return (weights.fn * fn + weights.fp * fp) / len(truth)


def roc_plot(y: np.ndarray, curves: Sequence[tuple[str, np.ndarray, float]], path: Path) -> Path:
    """One ROC curve per (model, out-of-fold probabilities, AUC)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.5, 6))
    for name, proba, auc in curves:
        fpr, tpr, _ = roc_curve(y, proba)
        axes.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", linewidth=1.4)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axes.set(
        xlabel="false-positive rate (good clients refused)",
        ylabel="true-positive rate (defaults refused)",
        title="ROC of the pooled out-of-fold probabilities",
    )
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def cost_plot(
    y: np.ndarray,
    curves: Sequence[tuple[str, np.ndarray, float]],
    weights: CostWeights,
    path: Path,
    upper: float = 0.4,
) -> Path:
    """Cost per client against the threshold, each model's chosen threshold marked."""
    plt = _pyplot()
    thresholds = np.linspace(0.0, upper, 201)[1:]
    figure, axes = plt.subplots(figsize=(7, 5))
    for name, proba, chosen in curves:
        line = axes.plot(thresholds, cost_curve(y, proba, thresholds, weights), label=name)
        at = cost_curve(y, proba, np.array([chosen]), weights)[0]
        axes.plot([chosen], [at], marker="o", color=line[0].get_color())
    axes.set(
        xlabel="threshold (refuse when probability of default >= threshold)",
        ylabel=f"business cost per client ({weights.fn:g} x FN + {weights.fp:g} x FP) / n",
        title="Business cost against the threshold, out of fold",
    )
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
