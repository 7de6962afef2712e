"""Score and explain a whole client set at once, cached on disk and shared through memory maps.

TreeSHAP costs milliseconds per row; computing it once per (bundle version, client data) with
all cores and keeping the result turns every later explanation of a known client into a lookup.

The cache is a folder of plain ``.npy`` arrays (client ids, probabilities, SHAP values and the
feature matrix they explain) plus a ``meta.json`` written last. Readers open the arrays with
``mmap_mode="r"``: the pages live once in the kernel's page cache, so N API workers on one
machine share one copy instead of holding N. The folder name carries the bundle version and
the client data fingerprint, so a new bundle or new client data never reads a stale cache. It
is built in a temporary folder and renamed, under a file lock, so concurrent workers compute it
once and a crash never leaves a torn one (a folder that does not check out is rebuilt).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoring.data import fingerprint
from scoring.model import ScoringModel
from scoring.shared import locked

CHUNK_ROWS = 2048
FORMAT = 2
ARRAYS = ("ids", "probability", "shap", "features")


@dataclass
class BatchScores:
    ids: np.ndarray  # int64 client ids, in the order of the other arrays
    probability: np.ndarray  # float64
    shap: np.ndarray  # float64 (n, features)
    base_value: float
    features: np.ndarray | None = None  # float64 (n, features): the values explained
    _order: np.ndarray | None = None  # argsort of ids, for searchsorted lookups

    def __post_init__(self) -> None:
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]

    def index_of(self, client_id: int) -> int | None:
        """Row of ``client_id`` (binary search: no per-client Python objects to hold)."""
        return _find(self._sorted, self._order, client_id)

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Row of each id, -1 where absent."""
        if not len(self._sorted):
            return np.full(len(ids), -1, dtype=np.int64)
        at = np.searchsorted(self._sorted, ids)
        at = np.minimum(at, len(self._sorted) - 1)
        found = self._sorted[at] == ids
        assert self._order is not None  # set in __post_init__; narrows  # nosec B101
        return np.where(found, self._order[at], -1).astype(np.int64)

    @property
    def shared(self) -> bool:
        """Whether the big arrays are file-backed memory maps (shared between processes)."""
        return isinstance(self.shap, np.memmap)


def _find(sorted_ids: np.ndarray, order: np.ndarray | None, client_id: int) -> int | None:
    at = int(np.searchsorted(sorted_ids, client_id))
    if at < len(sorted_ids) and int(sorted_ids[at]) == int(client_id) and order is not None:
        return int(order[at])
    return None


def cache_path(cache_dir: Path, model: ScoringModel, features: pd.DataFrame) -> Path:
    key = fingerprint(features.reset_index())[:16]
    return cache_dir / f"scores-{model.version}-{key}"


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
    return BatchScores(ids=ids, probability=probability, shap=shap, base_value=base, features=X)


def save(scores: BatchScores, path: Path) -> None:
    """Write the cache folder atomically: built beside it, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".scores-", dir=path.parent))
    try:
        arrays: dict[str, np.ndarray] = {
            "ids": np.asarray(scores.ids, dtype=np.int64),
            "probability": np.asarray(scores.probability, dtype=np.float64),
            "shap": np.asarray(scores.shap, dtype=np.float64),
        }
        if scores.features is not None:
            arrays["features"] = np.asarray(scores.features, dtype=np.float64)
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array))
        meta = {
            "format": FORMAT,
            "rows": len(arrays["ids"]),
            "base_value": scores.base_value,
            "shapes": {name: list(array.shape) for name, array in arrays.items()},
        }
        (tmp / "meta.json").write_text(json.dumps(meta))  # last: its presence means complete
        if path.exists():
            _remove(path)  # a stale or torn folder under the same name
        os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def load(path: Path) -> BatchScores | None:
    """The cached scores, memory-mapped read-only, or None when absent, torn or of another
    format (then they are recomputed)."""
    try:
        meta: dict[str, Any] = json.loads((path / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            return None
        arrays: dict[str, np.ndarray] = {}
        for name, shape in meta["shapes"].items():
            if name not in ARRAYS:
                return None
            array = np.load(path / f"{name}.npy", mmap_mode="r")
            if list(array.shape) != shape:
                return None
            arrays[name] = array
        if any(len(a) != meta["rows"] for a in arrays.values()):
            return None
        return BatchScores(
            ids=arrays["ids"],
            probability=arrays["probability"],
            shap=arrays["shap"],
            base_value=float(meta["base_value"]),
            features=arrays.get("features"),
        )
    except (OSError, KeyError, ValueError, TypeError):
        return None


def score_clients(
    model: ScoringModel,
    features: pd.DataFrame,
    cache_dir: Path,
    progress: Callable[[int], None] | None = None,
    threads: int = 0,
) -> BatchScores:
    """Cached batch scores of `features` (index SK_ID_CURR): a shared, memory-mapped lookup once
    computed. The first process computes it under a lock; the others wait, then map it."""
    path = cache_path(cache_dir, model, features)
    cached = load(path)
    if cached is not None and len(cached.ids) == len(features):
        return cached
    with locked(path):
        cached = load(path)  # another process may have built it while we waited
        if cached is not None and len(cached.ids) == len(features):
            return cached
        scores = compute(model, features, threads=threads, progress=progress)
        save(scores, path)
    mapped = load(path)
    return mapped if mapped is not None else scores
