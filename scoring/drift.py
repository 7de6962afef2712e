"""Data drift of the model's features: a set of applications against the training reference.

The tests are Evidently's defaults (its DataDriftPreset, evidently 0.7), reimplemented with
scipy because evidently 0.7.23 requires plotly < 6 and the lock pins plotly 7 for the dashboard
(docs/drift.md). Per feature, missing values dropped:

- reference of at most 1000 rows: numerical with more than 5 distinct values -> two-sample
  Kolmogorov-Smirnov; categorical, or numerical with 3-5 values -> chi-squared; 2 values or
  fewer -> two-proportion z-test. Drifted when p < 0.05.
- more than 1000 reference rows: numerical with more than 5 values -> Wasserstein distance
  normed by the reference's standard deviation; otherwise -> Jensen-Shannon distance of the
  value (or Sturges-bin) frequencies. Drifted when the distance >= 0.1.
- the dataset drifts when at least half of the tested features drift.

Pure functions on frames of model features (scoring.features): the CLI (`python -m scoring
drift`) and the API's rolling window of served applications (scoring.drift_window) share them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance as scipy_distance

from scoring.errors import BundleError

P_VALUE_THRESHOLD = 0.05
DISTANCE_THRESHOLD = 0.1
DRIFT_SHARE = 0.5  # dataset drift: at least this share of the tested features drifted
SMALL_REFERENCE_ROWS = 1000  # at most this many reference rows: p-value tests; more: distances
FEW_VALUES = 5  # a numerical feature with at most this many distinct values is tested as counts
MAX_SCORE = 10.0  # the score (value relative to its threshold) shown is capped here
REFERENCE_ROWS = 5000  # rows of the bundle's reference sample that drift compares with

Kind = Literal["numerical", "categorical"]
TestName = Literal["ks", "chisquare", "z", "wasserstein", "jensenshannon", "not_tested"]
TEST_LABELS: dict[str, str] = {
    "ks": "Kolmogorov-Smirnov p-value",
    "chisquare": "chi-squared p-value",
    "z": "two-proportion z-test p-value",
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
    "not_tested": "not tested (no values on one side)",
}


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's test: `p_value` for the tests of small references, `distance` otherwise.

    `score` is the value relative to its threshold (1 = at the threshold, above 1 = drifted, at
    most MAX_SCORE): one scale for charts whatever the test.
    """

    feature: str
    kind: Kind
    test: TestName
    statistic: float | None  # the test's statistic (KS D, chi-squared, z) or the distance
    p_value: float | None
    distance: float | None
    threshold: float
    drifted: bool
    score: float
    missing_reference: float  # share of missing values in the reference rows
    missing_current: float


@dataclass(frozen=True)
class DriftReport:
    dataset_drift: bool
    share_drifted: float
    drift_share: float
    drifted: list[str]  # names of the drifted features, strongest first
    tested: int  # features tested (the share's denominator)
    features: list[FeatureDrift]  # drifted first, strongest first
    reference_rows: int
    current_rows: int
    method: str = field(default="evidently-defaults")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (drift.json): floats rounded to 6 significant digits."""
        out = asdict(self)
        out["features"] = [
            {k: _rounded(v) for k, v in feature.items()} for feature in out["features"]
        ]
        out["share_drifted"] = _rounded(self.share_drifted)
        return out


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    return value


def reference_features(
    reference: pd.DataFrame,
    feature_names: list[str],
    max_rows: int = REFERENCE_ROWS,
    seed: int = 0,
) -> pd.DataFrame:
    """The feature columns of a bundle's reference sample, at most `max_rows` of them (a fixed
    random subset: the same rows every time), without its index (no client ids)."""
    absent = [name for name in feature_names if name not in reference.columns]
    if absent:
        raise BundleError(
            f"the bundle's reference sample lacks {len(absent)} model features (first: "
            f"{absent[0]}): drift needs a bundle written by this version (python -m scoring train)"
        )
    frame = reference[feature_names]
    if len(frame) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(frame), max_rows, replace=False))
        frame = frame.iloc[keep]
    return frame.reset_index(drop=True).astype("float64")


def _counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of each distinct value, over the values of both samples."""
    keys = np.unique(np.concatenate([reference, current]))
    ref = np.searchsorted(keys, reference)
    cur = np.searchsorted(keys, current)
    return np.bincount(ref, minlength=len(keys)), np.bincount(cur, minlength=len(keys))


def _frequencies(
    reference: np.ndarray, current: np.ndarray, kind: Kind
) -> tuple[np.ndarray, np.ndarray]:
    """Shares of each value, or of each Sturges bin for a numerical feature of many values."""
    if kind == "numerical" and len(np.unique(reference)) > 20:
        edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
        ref_counts = np.histogram(reference, edges)[0]
        cur_counts = np.histogram(current, edges)[0]
    else:
        ref_counts, cur_counts = _counts(reference, current)
    return ref_counts / len(reference), cur_counts / len(current)


def _chisquare(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    ref_counts, cur_counts = _counts(reference, current)
    expected = ref_counts * (len(current) / len(reference))
    with np.errstate(divide="ignore", invalid="ignore"):
        result = stats.chisquare(cur_counts, expected)
    statistic, p_value = float(result.statistic), float(result.pvalue)
    if not math.isfinite(p_value):  # a value never seen in the reference: certainly drifted
        return math.inf, 0.0
    return statistic, p_value


def _z_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-proportion z-test of the share of the smaller value (two-sided)."""
    low = min(reference.min(), current.min())
    p_ref, p_cur = float(np.mean(reference != low)), float(np.mean(current != low))
    n_ref, n_cur = len(reference), len(current)
    pooled = (p_ref * n_ref + p_cur * n_cur) / (n_ref + n_cur)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    if spread == 0:  # one value on both sides
        return 0.0, 1.0
    z = (p_ref - p_cur) / spread
    return z, float(2 * stats.norm.sf(abs(z)))


def _score(value: float, threshold: float, is_p_value: bool) -> float:
    ratio = math.log(max(value, 1e-300)) / math.log(threshold) if is_p_value else value / threshold
    return round(min(max(ratio, 0.0), MAX_SCORE), 4)


def feature_drift(
    name: str,
    reference: np.ndarray,
    current: np.ndarray,
    kind: Kind,
) -> FeatureDrift:
    """Evidently's default test of one feature (see the module's docstring), chosen, as
    Evidently does, on the reference's values once the missing ones are dropped; a feature
    without values on one side is `not_tested` (Evidently refuses such a column)."""
    ref, cur = reference[np.isfinite(reference)], current[np.isfinite(current)]
    make = partial(
        FeatureDrift,
        feature=name,
        kind=kind,
        missing_reference=1 - ref.size / len(reference) if len(reference) else 0.0,
        missing_current=1 - cur.size / len(current) if len(current) else 0.0,
    )
    if ref.size == 0 or cur.size == 0:
        return make(
            test="not_tested", statistic=None, p_value=None, distance=None,
            threshold=math.nan, drifted=False, score=0.0,
        )  # fmt: skip
    distinct = len(np.unique(np.concatenate([ref, cur])))
    test: TestName
    if ref.size <= SMALL_REFERENCE_ROWS:
        if kind == "numerical" and distinct > FEW_VALUES:
            test, result = "ks", stats.ks_2samp(ref, cur)
            statistic, p_value = float(result.statistic), float(result.pvalue)
        elif distinct > 2:
            test = "chisquare"
            statistic, p_value = _chisquare(ref, cur)
        else:
            test = "z"
            statistic, p_value = _z_test(ref, cur)
        return make(
            test=test, statistic=statistic, p_value=p_value, distance=None,
            threshold=P_VALUE_THRESHOLD, drifted=p_value < P_VALUE_THRESHOLD,
            score=_score(p_value, P_VALUE_THRESHOLD, True),
        )  # fmt: skip
    if kind == "numerical" and distinct > FEW_VALUES:
        test = "wasserstein"
        norm = max(float(np.std(ref)), 0.001)
        value = float(stats.wasserstein_distance(ref, cur)) / norm
    else:
        test = "jensenshannon"
        ref_share, cur_share = _frequencies(ref, cur, kind)
        value = float(scipy_distance.jensenshannon(ref_share, cur_share))
    return make(
        test=test, statistic=value, p_value=None, distance=value,
        threshold=DISTANCE_THRESHOLD, drifted=value >= DISTANCE_THRESHOLD,
        score=_score(value, DISTANCE_THRESHOLD, False),
    )  # fmt: skip


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    categorical: set[str] | frozenset[str] = frozenset(),
    drift_share: float = DRIFT_SHARE,
) -> DriftReport:
    """Drift of every column of `reference` in `current` (same feature columns, model-ready)."""
    absent = [name for name in reference.columns if name not in current.columns]
    if absent:
        raise ValueError(f"current rows lack features: {', '.join(absent[:5])}")
    if len(current) == 0:
        raise ValueError("no current rows to compare")
    results = []
    for name in reference.columns:
        kind: Kind = "categorical" if name in categorical else "numerical"
        # both at the reference's precision (float32, scoring.reference): a value that differs
        # only by its rounding must not look like a shift (it did, to the KS test, on the
        # building statistics' few distinct values)
        ref = reference[name].to_numpy(dtype="float32").astype("float64")
        cur = current[name].to_numpy(dtype="float32").astype("float64")
        results.append(feature_drift(str(name), ref, cur, kind))
    results.sort(key=lambda r: (not r.drifted, -r.score, r.feature))
    tested = [r for r in results if r.test != "not_tested"]
    drifted = [r.feature for r in tested if r.drifted]
    share = len(drifted) / len(tested) if tested else 0.0
    return DriftReport(
        dataset_drift=bool(tested) and share >= drift_share,
        share_drifted=share,
        drift_share=drift_share,
        drifted=drifted,
        tested=len(tested),
        features=results,
        reference_rows=len(reference),
        current_rows=len(current),
    )
