"""Score and explain a whole client set at once, cached on disk.

TreeSHAP costs milliseconds per row; computing it once per (bundle version, client data) with
all cores and keeping the result turns every later explanation of a known client into a lookup.
The cache file name carries both keys, so a new bundle or new client data never reads a stale
cache; it is written to a temporary file and renamed, so a crash never leaves a torn one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from scoring.data import fingerprint
from scoring.model import ScoringModel

CHUNK_ROWS = 2048


@dataclass
class BatchScores:
    ids: np.ndarray  # int64 client ids
    probability: np.ndarray  # float64
    shap: np.ndarray  # float64 (n, features)
    base_value: float
    _rows: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._rows = {int(i): row for row, i in enumerate(self.ids.tolist())}

    def index_of(self, client_id: int) -> int | None:
        return self._rows.get(int(client_id))


def cache_path(cache_dir: Path, model: ScoringModel, features: pd.DataFrame) -> Path:
    key = fingerprint(features.reset_index())[:16]
    return cache_dir / f"scores-{model.version}-{key}.npz"


def compute(
    model: ScoringModel,
    features: pd.DataFrame,
    threads: int = 0,
    progress: Callable[[int], None] | None = None,
) -> BatchScores:
    """Probabilities and SHAP values of every row, in chunks (bounded memory, visible progress)."""
    X = features.reindex(columns=model.feature_names).to_numpy(dtype="float64")
    n = len(X)
    shap = np.empty((n, len(model.feature_names)), dtype="float64")
    base = 0.0
    for start in range(0, n, CHUNK_ROWS):
        contrib = model.contributions(X[start : start + CHUNK_ROWS], threads=threads)
        shap[start : start + len(contrib)] = contrib[:, :-1]
        base = float(contrib[0, -1])
        if progress:
            progress(len(contrib))
    probability = model.predict_proba(X, threads=threads) if n else np.empty(0)
    ids = features.index.to_numpy(dtype="int64")
    return BatchScores(ids=ids, probability=probability, shap=shap, base_value=base)


def save(scores: BatchScores, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".scores-", suffix=".npz", dir=path.parent)
    os.close(handle)
    try:
        np.savez(
            tmp,
            ids=scores.ids,
            probability=scores.probability,
            shap=scores.shap,
            base_value=np.array([scores.base_value]),
        )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(path: Path) -> BatchScores | None:
    """The cached scores, or None when absent or unreadable (then they are recomputed)."""
    try:
        with np.load(path) as data:
            return BatchScores(
                ids=data["ids"],
                probability=data["probability"],
                shap=data["shap"],
                base_value=float(data["base_value"][0]),
            )
    except (OSError, KeyError, ValueError):
        return None


def score_clients(
    model: ScoringModel,
    features: pd.DataFrame,
    cache_dir: Path,
    progress: Callable[[int], None] | None = None,
    threads: int = 0,
) -> BatchScores:
    """Cached batch scores of `features` (index SK_ID_CURR): a lookup once computed."""
    path = cache_path(cache_dir, model, features)
    cached = load(path) if path.exists() else None
    if cached is not None and len(cached.ids) == len(features):
        return cached
    scores = compute(model, features, threads=threads, progress=progress)
    save(scores, path)
    return scores
