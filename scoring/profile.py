"""Aggregate, non-identifying profile of the real Home Credit application tables.

The product ships no real rows (redistributing competition data is not ours to do), yet its demo
data must look like the real thing. This module distils the real sample into a small JSON of
aggregates only: column order and dtypes, missing rates, quantile functions, category
frequencies, a rank-correlation matrix and a few ratios. ``scoring.demo_data`` samples from it.
No statistic here describes a single applicant except the per-column min/max, which are bounds,
not records.

Regenerate with ``write_profile(data_dir, out_path)`` (the CLI exposes it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from scoring.schema import NO_DATE

ID_COLUMN = "SK_ID_CURR"
TARGET_COLUMN = "TARGET"
ANOMALY_COLUMN = "DAYS_EMPLOYED"
ANOMALY_VALUE = NO_DATE  # Kaggle's placeholder for "not employed", almost only pensioners.
DESCRIPTION_TABLE = "application_{train|test}.csv"

# Percentile grid of the stored quantile functions: dense in the tails, where linear
# interpolation between coarse points would distort amounts and ages the most.
QUANTILE_LEVELS: tuple[float, ...] = (
    0, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 25, 30, 35, 40, 45, 50,
    55, 60, 65, 70, 75, 80, 85, 90, 92.5, 95, 97, 98, 99, 99.5, 100,
)  # fmt: skip
DISCRETE_MAX_LEVELS = 100  # numeric columns with fewer distinct values are stored as frequencies
SIGNIFICANT_DIGITS = 7
MISSING_GROUP_MIN_CORR = 0.5  # missing indicators this correlated share one latent draw
STEP_CANDIDATES: tuple[int, ...] = (4500, 2250, 1000, 500, 100, 50, 10, 5, 1)
STEP_MIN_SHARE = 0.8

# Columns whose law differs between pensioners (the DAYS_EMPLOYED anomaly) and the employed.
SEGMENT_COLUMNS: tuple[str, ...] = (
    "NAME_INCOME_TYPE", "ORGANIZATION_TYPE", "OCCUPATION_TYPE", "FLAG_EMP_PHONE",
)  # fmt: skip
# Derived from other columns by the generator, so kept out of the copula.
DERIVED_COLUMNS: frozenset[str] = frozenset({"AMT_GOODS_PRICE", "AMT_ANNUITY", "CNT_FAM_MEMBERS"})


def round_sig(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """Round to significant digits: keeps the JSON small without flattening small values."""
    if not np.isfinite(value) or value == 0:
        return float(value)
    return float(f"{value:.{digits}g}")


def is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series.dtype)


def dtype_name(series: pd.Series) -> str:
    """The dtype the generator must reproduce: int64, float64 or str (category labels)."""
    if is_categorical(series):
        return "str"
    return "int64" if pd.api.types.is_integer_dtype(series.dtype) else "float64"


def frequencies(values: pd.Series) -> list[list[Any]]:
    """Level -> share among non-missing values, most frequent first (levels are public names)."""
    shares = values.dropna().value_counts(normalize=True, sort=True)
    return [[_plain(level), round_sig(float(share), 4)] for level, share in shares.items()]


def _plain(value: Any) -> Any:
    """JSON-friendly scalar: numpy numbers become Python ints/floats."""
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.floating | float):
        number = float(value)
        return int(number) if number.is_integer() else round_sig(number)
    return str(value)


def _integer_step(values: np.ndarray) -> int:
    """Largest round step most values are multiples of (amounts cluster on 4500, 1000, ...).

    Zeros are multiples of every step: a column mostly at 0 would otherwise get the largest.
    """
    values = values[values != 0]
    if values.size == 0:
        return 1
    for step in STEP_CANDIDATES:
        if np.mean(np.mod(values, step) == 0) >= STEP_MIN_SHARE:
            return step
    return 1


def _decimals(values: np.ndarray) -> int | None:
    """Fewest decimals that reproduce ~all values, or None when values are truly continuous."""
    for digits in range(7):
        if np.mean(np.isclose(np.round(values, digits), values, rtol=0, atol=1e-9)) >= 0.99:
            return digits
    return None


def numeric_stats(
    series: pd.Series,
    levels: tuple[float, ...] = QUANTILE_LEVELS,
    max_discrete: int = DISCRETE_MAX_LEVELS,
) -> dict[str, Any]:
    """Marginal law of a numeric column: frequencies when discrete, else a quantile function
    on the percentile grid `levels`."""
    values = series.dropna().to_numpy(dtype=float)
    if series.name == ANOMALY_COLUMN:
        values = values[values != ANOMALY_VALUE]  # the anomaly is modelled apart, as a rate
    stats: dict[str, Any] = {
        "min": _plain(values.min()),
        "max": _plain(values.max()),
        "mean": round_sig(float(values.mean())),
    }
    integer = bool(np.all(np.mod(values, 1) == 0))
    stats["integer"] = integer
    if np.unique(values).size <= max_discrete:
        stats["values"] = frequencies(pd.Series(values))
        return stats
    quantiles = np.percentile(values, levels)
    stats["quantiles"] = [round_sig(float(q)) for q in quantiles]
    decimals = 0 if integer else _decimals(values)
    stats["decimals"] = decimals
    if decimals == 0:
        stats["step"] = _integer_step(np.round(values))
    return stats


def _descriptions(descriptions_csv: Path) -> dict[str, dict[str, str]]:
    """Kaggle's description (and 'special' note) of each application column."""
    table = pd.read_csv(descriptions_csv)
    rows = table[table["Table"] == DESCRIPTION_TABLE]
    out: dict[str, dict[str, str]] = {}
    for _, row in rows.iterrows():
        entry = {"description": str(row["Description"]).strip()}
        if isinstance(row["Special"], str) and row["Special"].strip():
            entry["special"] = row["Special"].strip()
        out[str(row["Row"])] = entry
    return out


def _column_profile(
    name: str, train: pd.DataFrame, both: pd.DataFrame, notes: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """One column's entry; TARGET is profiled on train only, everything else on train + test."""
    series = train[name] if name == TARGET_COLUMN else both[name]
    entry: dict[str, Any] = {
        "name": name,
        "dtype": dtype_name(series),
        "kind": "categorical" if is_categorical(series) else "numeric",
        "missing_rate": round_sig(float(series.isna().mean()), 4),
        **notes.get(name, {"description": ""}),
    }
    if name in (ID_COLUMN, TARGET_COLUMN):
        return entry
    if entry["kind"] == "categorical":
        entry["levels"] = frequencies(series)
    else:
        entry.update(numeric_stats(series))
    return entry


def missing_groups(both: pd.DataFrame) -> list[list[str]]:
    """Columns that go missing together (building block, bureau requests, social circle).

    Greedy: each column joins the first group whose leader's missing indicator it correlates
    with; the generator then draws one uniform per group so the missingness stays nested.
    """
    rates = both.isna().mean()
    candidates = [c for c in both.columns if 0 < rates[c] < 1]
    indicators = both[candidates].isna().astype(float)
    corr = indicators.corr().to_numpy()
    groups: list[list[int]] = []
    for i in range(len(candidates)):
        for group in groups:
            if corr[group[0], i] >= MISSING_GROUP_MIN_CORR:
                group.append(i)
                break
        else:
            groups.append([i])
    return [[candidates[i] for i in g] for g in groups if len(g) > 1]


def _normal_scores(series: pd.Series) -> pd.Series:
    """Rank-based normal scores: the Gaussian-copula view of any marginal, ties averaged."""
    ranks = series.rank(method="average")
    count = series.notna().sum()
    return pd.Series(ndtri((ranks - 0.5) / count), index=series.index)


def _nearest_correlation(matrix: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Pairwise-complete correlations need not be PSD: clip eigenvalues, restore unit diagonal."""
    sym = (matrix + matrix.T) / 2
    eigval, eigvec = np.linalg.eigh(sym)
    fixed = eigvec @ np.diag(np.clip(eigval, floor, None)) @ eigvec.T
    scale = np.sqrt(np.diag(fixed))
    return np.asarray(fixed / np.outer(scale, scale))


def copula_columns(columns: list[dict[str, Any]]) -> list[str]:
    """Numeric columns whose joint law the copula carries (non-constant, not derived, no id)."""
    names = []
    for col in columns:
        if col["kind"] != "numeric" or col["name"] in (ID_COLUMN, TARGET_COLUMN):
            continue
        if col["name"] in DERIVED_COLUMNS or len(col.get("values", [[0, 1], [1, 0]])) < 2:
            continue
        names.append(col["name"])
    return names


def _copula(both: pd.DataFrame, names: list[str]) -> dict[str, Any]:
    """Normal-score correlation matrix of the copula columns (anomaly masked), rounded."""
    frame = both[names].astype(float).copy()
    frame.loc[frame[ANOMALY_COLUMN] == ANOMALY_VALUE, ANOMALY_COLUMN] = np.nan
    scores = frame.apply(_normal_scores)
    corr = scores.corr(min_periods=30).fillna(0.0).to_numpy(copy=True)
    np.fill_diagonal(corr, 1.0)
    fixed = _nearest_correlation(corr)
    return {"columns": names, "corr": np.round(fixed, 3).tolist()}


def _segments(both: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Law of the segment columns among pensioners (anomaly) and among the employed."""
    anomaly = both[ANOMALY_COLUMN] == ANOMALY_VALUE
    out: dict[str, dict[str, Any]] = {}
    for segment, mask in (("pensioner", anomaly), ("employed", ~anomaly)):
        part = both[mask]
        out[segment] = {
            name: {
                "missing_rate": round_sig(float(part[name].isna().mean()), 4),
                "levels": frequencies(part[name]),
            }
            for name in SEGMENT_COLUMNS
        }
    return out


def _anomaly(both: pd.DataFrame) -> dict[str, Any]:
    """Rate of the DAYS_EMPLOYED anomaly and how strongly it follows age.

    The generator draws "pensioner" from a threshold on a latent mixing age with noise; the
    loading is recovered from the point-biserial correlation of the real sample.
    """
    anomaly = (both[ANOMALY_COLUMN] == ANOMALY_VALUE).astype(float)
    rate = float(anomaly.mean())
    age_scores = _normal_scores(-both["DAYS_BIRTH"].astype(float))
    point_biserial = float(np.corrcoef(age_scores, anomaly)[0, 1])
    threshold = float(ndtri(1 - rate))
    density = float(np.exp(-(threshold**2) / 2) / np.sqrt(2 * np.pi))
    loading = point_biserial * np.sqrt(rate * (1 - rate)) / density
    return {
        "column": ANOMALY_COLUMN,
        "value": ANOMALY_VALUE,
        "rate": round_sig(rate, 4),
        "age_loading": round_sig(float(np.clip(loading, 0.0, 0.95)), 3),
    }


def _ratio_law(numerator: pd.Series, denominator: pd.Series) -> dict[str, Any]:
    """Quantiles of a ratio, and its normal-score correlation with the numerator.

    Longer loans carry larger credits: the generator keeps that link when it derives the annuity
    and the goods price from the credit.
    """
    ratio = (numerator / denominator).replace([np.inf, -np.inf], np.nan)
    both = pd.DataFrame({"num": numerator, "ratio": ratio}).dropna()
    corr = float(np.corrcoef(_normal_scores(both["num"]), _normal_scores(both["ratio"]))[0, 1])
    quantiles = np.percentile(both["ratio"], QUANTILE_LEVELS)
    return {
        "quantiles": [round_sig(float(q), 5) for q in quantiles],
        "corr_with_numerator": round(corr, 3),
    }


def build_profile(train: pd.DataFrame, test: pd.DataFrame, descriptions_csv: Path) -> dict:
    """Aggregate profile of the real application tables (see the module docstring)."""
    both = pd.concat([train.drop(columns=[TARGET_COLUMN]), test], ignore_index=True)
    notes = _descriptions(descriptions_csv)
    columns = [_column_profile(name, train, both, notes) for name in train.columns]
    return {
        "format": 1,
        "source": {
            "train_rows": len(train),
            "test_rows": len(test),
            "note": "aggregates of the Home Credit Default Risk application sample; no rows",
        },
        "quantile_levels": list(QUANTILE_LEVELS),
        "target_rate": round_sig(float(train[TARGET_COLUMN].mean()), 4),
        "id_range": [int(both[ID_COLUMN].min()), int(both[ID_COLUMN].max())],
        "columns": columns,
        "missing_groups": missing_groups(both),
        "anomaly": _anomaly(both),
        "segments": _segments(both),
        "ratios": {
            "credit_to_goods": _ratio_law(both["AMT_CREDIT"], both["AMT_GOODS_PRICE"]),
            "credit_to_annuity": _ratio_law(both["AMT_CREDIT"], both["AMT_ANNUITY"]),
        },
        "copula": _copula(both, copula_columns(columns)),
    }


def write_profile(data_dir: Path, out_path: Path) -> Path:
    """Rebuild the profile JSON from the real sample folder (CLI entry point)."""
    data_dir = Path(data_dir)
    train = pd.read_parquet(data_dir / "application_train_sample.parquet")
    test = pd.read_parquet(data_dir / "application_test_sample.parquet")
    profile = build_profile(train, test, data_dir / "HomeCredit_columns_description.csv")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(profile, ensure_ascii=False, separators=(",", ":"))
    out_path.write_text(text + "\n", encoding="utf-8")
    return out_path
