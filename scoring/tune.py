"""Optional bounded hyper-parameter search (Optuna, TPE, seeded) on cross-validated AUC."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from scoring.train import TrainConfig, cross_validate


def search_space(trial: Any) -> dict[str, Any]:
    """Bounds wide enough to matter on Home Credit, narrow enough for a few dozen trials."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.1, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.2, 0.9),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-2, 50.0, log=True),
    }


def tune(
    X: pd.DataFrame,
    y: np.ndarray,
    categorical: list[str],
    config: TrainConfig,
    trials: int,
    on_trial: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Best parameters found in `trials` trials; deterministic for the config's seed."""
    import optuna  # training-only dependency, imported where it is needed

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        params = {**dict(config.params), **search_space(trial)}
        cv = cross_validate(X, y, categorical, replace(config, params=params))
        if on_trial:
            on_trial(1)
        return float(roc_auc_score(y, cv.oof))

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed)
    )
    study.optimize(objective, n_trials=trials)
    return {**dict(config.params), **study.best_params}
