"""Nearest reference clients: a k-NN index over the reference population's features.

Features are robust-scaled (median, inter-quartile range) so no single amount dominates the
distance, and missing values are imputed with the median (0 once scaled). Pure numpy, vectorised:
a query over 300k reference clients x 30 features is one matrix-vector product.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

RESERVED = ("TARGET", "probability")


@dataclass(frozen=True)
class Neighbors:
    ids: np.ndarray  # int64, nearest first
    distances: np.ndarray  # float64
    target: np.ndarray  # int
    probability: np.ndarray  # float64

    @property
    def default_rate(self) -> float:
        return float(self.target.mean()) if len(self.target) else 0.0


@dataclass(frozen=True)
class NeighborIndex:
    features: list[str]
    center: np.ndarray
    scale: np.ndarray
    matrix: np.ndarray  # float32 [n, d], scaled, NaN -> 0
    sq_norms: np.ndarray  # float32 [n]
    ids: np.ndarray
    target: np.ndarray
    probability: np.ndarray

    @classmethod
    def build(cls, reference: pd.DataFrame, features: Sequence[str] | None = None) -> NeighborIndex:
        """Index ``reference`` (index = client ids, columns TARGET, probability, features)."""
        names = (
            list(features)
            if features is not None
            else [c for c in reference.columns if c not in RESERVED]
        )
        if not names:
            raise ValueError("the reference table has no feature columns")
        values = reference[names].to_numpy(dtype=np.float64, na_value=np.nan)
        center, scale = robust_scale(values)
        matrix = _standardise(values, center, scale).astype(np.float32)
        probability = (
            reference["probability"].to_numpy(dtype=np.float64)
            if "probability" in reference
            else np.full(len(reference), np.nan)
        )
        return cls(
            features=names,
            center=center,
            scale=scale,
            matrix=matrix,
            sq_norms=np.einsum("ij,ij->i", matrix, matrix),
            ids=reference.index.to_numpy(dtype=np.int64),
            target=reference["TARGET"].to_numpy(dtype=np.int64),
            probability=probability,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def vector(self, row: Mapping[str, float | None]) -> np.ndarray:
        """The scaled query vector; names absent from ``row`` count as missing."""
        raw = [row.get(name) for name in self.features]
        values = np.array([np.nan if v is None else float(v) for v in raw], dtype=np.float64)
        return _standardise(values[None, :], self.center, self.scale)[0]

    def query(self, row: Mapping[str, float | None], k: int) -> Neighbors:
        """The ``k`` nearest reference clients, nearest first (ties broken by id)."""
        if k < 1:
            raise ValueError("k must be >= 1")
        k = min(k, len(self))
        q = self.vector(row)
        # einsum, not BLAS (`@`): multi-threaded BLAS spin-waits and stalls for milliseconds
        # when called from server threads on a busy machine; this stays ~0.1 ms per 20k rows.
        approx = self.sq_norms - 2.0 * np.einsum("ij,j->i", self.matrix, q.astype(np.float32))
        candidates = np.argpartition(approx, k - 1)[:k] if k < len(self) else np.arange(len(self))
        # Exact distances for the few candidates, in float64.
        diffs = self.matrix[candidates].astype(np.float64) - q
        exact = np.sqrt(np.einsum("ij,ij->i", diffs, diffs))
        order = np.lexsort((self.ids[candidates], exact))
        chosen = candidates[order]
        return Neighbors(
            ids=self.ids[chosen],
            distances=exact[order],
            target=self.target[chosen],
            probability=self.probability[chosen],
        )


def robust_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column median and spread (IQR, else std, else 1), ignoring NaN."""
    with warnings.catch_warnings():  # all-NaN columns are expected: they get centre 0, scale 1
        warnings.simplefilter("ignore", RuntimeWarning)
        center = np.nanmedian(values, axis=0)
        q75, q25 = np.nanpercentile(values, [75, 25], axis=0)
        std = np.nanstd(values, axis=0)
    center = np.where(np.isfinite(center), center, 0.0)
    spread = q75 - q25
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, std)
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
    return center, spread


def _standardise(values: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    scaled = (values - center) / scale
    return np.where(np.isnan(scaled), 0.0, scaled)
