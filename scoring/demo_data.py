"""Home-Credit-shaped demo data: the product's embedded default, so it runs with no download.

Rows are sampled from the aggregate profile in ``resources/application_profile.json`` (see
``scoring.profile``), never copied from real data:

* numeric columns share a Gaussian copula (the real rank correlations) and are mapped through
  each column's real quantile function or value frequencies, so marginals and ranges match;
* the DAYS_EMPLOYED = 365243 anomaly marks "pensioners", drawn at the real rate and mostly among
  the oldest, with the pensioner laws of income type, organisation and occupation;
* missing values follow the real rates, nested within groups that go missing together;
* a few columns are derived for coherence (goods price, annuity, family size, car age);
* TARGET comes from a latent default model shaped like the real one (EXT_SOURCE_* dominate,
  then age, employment, debt ratios, education, gender, region) at the real base rate;
* one driver of that model, the client's credit history, is hidden from the application: it
  shows only through the six auxiliary tables (``scoring.demo_aux``), whose aggregates therefore
  add information to the application's, as bureau and payment histories do in real data.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr, ndtri

from scoring.data import RawTables
from scoring.demo_aux import AUX_TABLES, generate_auxiliary
from scoring.profile import ID_COLUMN, TARGET_COLUMN
from scoring.sampling import from_frequencies, numeric_values

PROFILE_RESOURCE = "application_profile.json"
TRAIN_FILE = "application_train"
TEST_FILE = "application_test"

# Latent default model: weights on standardised drivers, in log-odds per standard deviation.
# Signs follow the real data (low external scores, youth, short employment and heavy debt ratios
# raise risk); LOGIT_SCALE then sets the overall separability, calibrated so that a plain
# LightGBM on the raw columns reaches a CV AUC of about 0.75, like a good real model.
DRIVER_WEIGHTS: dict[str, float] = {
    "ext_source_1": -0.55,
    "ext_source_2": -0.75,
    "ext_source_3": -0.80,
    "ext_low_both": 0.30,
    "young": 0.22,
    "short_employment": 0.25,
    "credit_to_income": 0.10,
    "annuity_to_income": 0.12,
    "credit_to_goods": 0.20,
    "region_rating": 0.18,
    "phone_change_recent": 0.10,
    "social_defaults": 0.12,
    "noise": 0.25,
    "credit_history": 0.45,  # hidden from the application, seen through the auxiliary tables
}
LEVEL_EFFECTS: dict[str, dict[str, float]] = {
    "NAME_EDUCATION_TYPE": {
        "Academic degree": -0.6,
        "Higher education": -0.35,
        "Incomplete higher": 0.0,
        "Secondary / secondary special": 0.1,
        "Lower secondary": 0.3,
    },
    "CODE_GENDER": {"M": 0.28, "F": 0.0},
    "FLAG_OWN_CAR": {"Y": -0.15, "N": 0.0},
    "FLAG_OWN_REALTY": {"Y": -0.05, "N": 0.0},
    "NAME_CONTRACT_TYPE": {"Revolving loans": -0.25},
    "OCCUPATION_TYPE": {"Low-skill Laborers": 0.45, "Drivers": 0.2, "Accountants": -0.3},
    "NAME_INCOME_TYPE": {"State servant": -0.2},
}
LOGIT_SCALE = 0.68
# Correlation of the credit behaviour (what drives the auxiliary tables) with the risk that the
# application itself shows: the histories confirm part of it and reveal the hidden driver.
HISTORY_APP_LOADING = 0.5
AUX_STREAM = 1  # the auxiliary tables draw from their own stream: application rows are unchanged
COUPLE_STATUSES = ("Married", "Civil marriage")  # a partner counts in CNT_FAM_MEMBERS
MIN_WORK_AGE_DAYS = 18 * 365  # employment cannot start before adulthood
MIN_ID_AGE_DAYS = 14 * 365  # identity documents are issued from 14


@cache
def load_profile() -> dict[str, Any]:
    """The committed profile, read once on first use (never at import time)."""
    text = resources.files("scoring").joinpath("resources", PROFILE_RESOURCE).read_text("utf-8")
    profile: dict[str, Any] = json.loads(text)
    return profile


@cache
def _copula_factor() -> np.ndarray:
    """Cholesky factor of the copula correlation (re-clipped: rounding may break PSD)."""
    corr = np.asarray(load_profile()["copula"]["corr"], dtype=float)
    eigval, eigvec = np.linalg.eigh((corr + corr.T) / 2)
    fixed = eigvec @ np.diag(np.clip(eigval, 1e-4, None)) @ eigvec.T
    scale = np.sqrt(np.diag(fixed))
    return np.asarray(np.linalg.cholesky(fixed / np.outer(scale, scale)), dtype=np.float32)


def _columns_by_name(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {col["name"]: col for col in profile["columns"]}


def _check_rows(name: str, value: int, minimum: int) -> None:
    """Reject row counts early, with a message that says what was expected."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")


# --- the generation steps ---------------------------------------------------------------------


def _latent(n: int, rng: np.random.Generator) -> np.ndarray:
    """Correlated standard normals, one column per copula column (float32 keeps 300k rows light)."""
    factor = _copula_factor()
    noise = rng.standard_normal((n, factor.shape[0]), dtype=np.float32)
    return noise @ factor.T


def _pensioners(profile: dict[str, Any], young: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Who carries the DAYS_EMPLOYED anomaly: a threshold on age mixed with noise."""
    anomaly = profile["anomaly"]
    loading = float(anomaly["age_loading"])
    mixed = -loading * young + np.sqrt(1 - loading**2) * rng.standard_normal(young.shape[0])
    return np.asarray(mixed > ndtri(1 - float(anomaly["rate"])))


def _categorical(u: np.ndarray, levels: list[list[Any]]) -> np.ndarray:
    return from_frequencies(u, levels)


def _segment_column(
    name: str, profile: dict[str, Any], pensioner: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Values and missing mask of a column whose law depends on the pensioner segment."""
    n = pensioner.shape[0]
    values = np.empty(n, dtype=object)
    missing = np.zeros(n, dtype=bool)
    for segment, mask in (("pensioner", pensioner), ("employed", ~pensioner)):
        law = profile["segments"][segment][name]
        count = int(mask.sum())
        if law["levels"]:
            values[mask] = _categorical(rng.random(count), law["levels"])
        missing[mask] = rng.random(count) < law["missing_rate"]
    return values, missing


def _missing_masks(profile: dict[str, Any], n: int, rng: np.random.Generator) -> dict[str, Any]:
    """Missing mask of every column; one shared uniform per group keeps missingness nested."""
    shared: dict[str, np.ndarray] = {}
    for group in profile["missing_groups"]:
        shared.update(dict.fromkeys(group, rng.random(n)))
    masks: dict[str, np.ndarray] = {}
    for col in profile["columns"]:
        rate = float(col["missing_rate"])
        if rate <= 0:
            continue
        draw = shared.get(col["name"])
        masks[col["name"]] = (rng.random(n) if draw is None else draw) < rate
    return masks


def _ratio_draw(
    law: dict[str, Any], anchor: np.ndarray, levels: list[float], rng: np.random.Generator
) -> np.ndarray:
    """A ratio from its quantile function, correlated with the credit's latent as in real data."""
    rho = float(law["corr_with_numerator"])
    mixed = rho * anchor + np.sqrt(1 - rho**2) * rng.standard_normal(anchor.shape[0])
    return np.interp(ndtr(mixed) * 100.0, levels, law["quantiles"])


def _derived_amounts(
    values: dict[str, np.ndarray],
    credit_latent: np.ndarray,
    profile: dict[str, Any],
    rng: np.random.Generator,
) -> None:
    """Goods price and annuity follow the credit through the real credit/goods and term ratios."""
    columns = _columns_by_name(profile)
    levels = profile["quantile_levels"]
    ratios = profile["ratios"]
    credit = values["AMT_CREDIT"]
    to_goods = _ratio_draw(ratios["credit_to_goods"], credit_latent, levels, rng)
    to_annuity = _ratio_draw(ratios["credit_to_annuity"], credit_latent, levels, rng)
    goods_col, annuity_col = columns["AMT_GOODS_PRICE"], columns["AMT_ANNUITY"]
    step = goods_col.get("step") or 1
    goods = np.round(credit / to_goods / step) * step
    values["AMT_GOODS_PRICE"] = np.clip(goods, goods_col["min"], goods_col["max"])
    annuity = np.round(credit / to_annuity, annuity_col.get("decimals") or 1)
    values["AMT_ANNUITY"] = np.clip(annuity, annuity_col["min"], annuity_col["max"])


def _coherent_days(values: dict[str, np.ndarray], pensioner: np.ndarray) -> None:
    """Nothing starts before birth: employment after 18, ID documents after 14."""
    birth = values["DAYS_BIRTH"]
    employed = np.maximum(values["DAYS_EMPLOYED"], birth + MIN_WORK_AGE_DAYS)
    values["DAYS_EMPLOYED"] = np.where(pensioner, 365243, np.minimum(employed, -1))
    values["DAYS_REGISTRATION"] = np.maximum(values["DAYS_REGISTRATION"], birth)
    values["DAYS_ID_PUBLISH"] = np.minimum(
        np.maximum(values["DAYS_ID_PUBLISH"], birth + MIN_ID_AGE_DAYS), -1
    )


def _standardise(x: np.ndarray) -> np.ndarray:
    std = float(np.std(x))
    return (x - float(np.mean(x))) / (std if std > 0 else 1.0)


def _default_drivers(
    latent: dict[str, np.ndarray],
    values: dict[str, np.ndarray],
    pensioner: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Standardised risk drivers, read before values are masked (a hidden score still counts)."""
    income = values["AMT_INCOME_TOTAL"]
    credit = values["AMT_CREDIT"]
    low2, low3 = np.maximum(-latent["EXT_SOURCE_2"], 0), np.maximum(-latent["EXT_SOURCE_3"], 0)
    return {
        "ext_source_1": latent["EXT_SOURCE_1"],
        "ext_source_2": latent["EXT_SOURCE_2"],
        "ext_source_3": latent["EXT_SOURCE_3"],
        "ext_low_both": _standardise(low2 * low3),
        "young": latent["DAYS_BIRTH"],
        "short_employment": np.where(pensioner, -0.5, latent["DAYS_EMPLOYED"]),
        "credit_to_income": _standardise(np.log(credit / income)),
        "annuity_to_income": _standardise(np.log(values["AMT_ANNUITY"] / income)),
        "credit_to_goods": _standardise(np.log(credit / values["AMT_GOODS_PRICE"])),
        "region_rating": _standardise(values["REGION_RATING_CLIENT_W_CITY"]),
        "phone_change_recent": latent["DAYS_LAST_PHONE_CHANGE"],
        "social_defaults": _standardise(values["DEF_30_CNT_SOCIAL_CIRCLE"]),
        "noise": rng.standard_normal(size=(income.shape[0],)),
    }


def _risk_score(drivers: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> np.ndarray:
    """The latent default score: weighted drivers plus the effects of a few category levels."""
    score = np.zeros(len(next(iter(drivers.values()))), dtype=float)
    for name, driver in drivers.items():
        score += DRIVER_WEIGHTS[name] * np.asarray(driver, dtype=float)
    for column, effects in LEVEL_EFFECTS.items():
        score += pd.Series(labels[column]).map(effects).fillna(0.0).to_numpy(dtype=float)
    return score


def _draw_target(score: np.ndarray, base_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli draws from the latent logit, intercept solved to hit the real base rate."""
    logit = LOGIT_SCALE * score
    intercept = _solve_intercept(logit, base_rate)
    return (rng.random(logit.shape[0]) < expit(intercept + logit)).astype(np.int64)


def _credit_behaviour(drivers: dict[str, np.ndarray], score: np.ndarray) -> np.ndarray:
    """A standard normal per client (higher = riskier): part the risk the application shows,
    part the hidden credit-history driver."""
    hidden = drivers["credit_history"]
    visible = (
        score
        - DRIVER_WEIGHTS["noise"] * drivers["noise"]
        - DRIVER_WEIGHTS["credit_history"] * hidden
    )
    loading = HISTORY_APP_LOADING
    return loading * _standardise(visible) + np.sqrt(1 - loading**2) * hidden


def _solve_intercept(logit: np.ndarray, base_rate: float) -> float:
    """Bisection on the intercept so the mean default probability equals the base rate."""
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        if float(np.mean(expit(middle + logit))) < base_rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _draw_ids(profile: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """Unique ids in the real range (widened only when more rows than ids are asked for)."""
    first, last = profile["id_range"]
    span = max(int(last) - int(first) + 1, n)
    return int(first) + rng.choice(span, size=n, replace=False).astype(np.int64)


def _to_column(values: np.ndarray, missing: np.ndarray | None, dtype: str) -> pd.Series:
    """Cast to the real dtype; categoricals become pandas strings with NaN for missing."""
    if dtype == "str":
        labels = np.asarray(values, dtype=object).copy()
        if missing is not None:
            labels[missing] = np.nan
        return pd.Series(labels, dtype="str")
    if dtype == "int64":
        return pd.Series(np.asarray(values, dtype=np.int64))
    numbers = np.asarray(values, dtype=np.float64).copy()
    if missing is not None:
        numbers[missing] = np.nan
    return pd.Series(numbers)


def _generate_rows(
    profile: dict[str, Any], n: int, rng: np.random.Generator, history: np.ndarray
) -> tuple[dict[str, pd.Series], np.ndarray, np.ndarray]:
    """All raw columns but the id, TARGET drawn for every row, and each row's credit behaviour
    (`history`: the hidden credit-history driver, a standard normal per row)."""
    columns = _columns_by_name(profile)
    levels = profile["quantile_levels"]
    copula_names: list[str] = profile["copula"]["columns"]
    z = _latent(n, rng)
    latent = {name: z[:, i] for i, name in enumerate(copula_names)}  # float32 views, no copies
    values: dict[str, np.ndarray] = {
        name: numeric_values(ndtr(latent[name]), columns[name], levels) for name in copula_names
    }
    for col in profile["columns"]:
        name = col["name"]
        if col["kind"] == "numeric" and name not in values and "values" in col:
            values[name] = numeric_values(rng.random(n), col, levels)  # constant flags
        elif col["kind"] == "categorical":
            values[name] = _categorical(rng.random(n), col["levels"])

    masks = _missing_masks(profile, n, rng)
    pensioner = _pensioners(profile, latent["DAYS_BIRTH"], rng)
    for name in profile["segments"]["pensioner"]:
        values[name], masks[name] = _segment_column(name, profile, pensioner, rng)
    masks["OWN_CAR_AGE"] = values["FLAG_OWN_CAR"] == "N"
    _coherent_days(values, pensioner)
    _derived_amounts(values, latent["AMT_CREDIT"], profile, rng)
    couple = np.isin(values["NAME_FAMILY_STATUS"], COUPLE_STATUSES)
    values["CNT_FAM_MEMBERS"] = values["CNT_CHILDREN"] + 1.0 + couple

    drivers = _default_drivers(latent, values, pensioner, rng)
    drivers["credit_history"] = history
    labels = {name: values[name] for name in LEVEL_EFFECTS}
    score = _risk_score(drivers, labels)
    target = _draw_target(score, float(profile["target_rate"]), rng)
    behaviour = _credit_behaviour(drivers, score)
    series: dict[str, pd.Series] = {}
    for col in profile["columns"]:
        if col["name"] not in (ID_COLUMN, TARGET_COLUMN):
            name = col["name"]
            series[name] = _to_column(values.pop(name), masks.get(name), col["dtype"])
    return series, target, behaviour


def _generate(
    n_train: int, n_test: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray, np.random.Generator]:
    """Train then test rows (profile order), their credit behaviour, and the auxiliary stream."""
    _check_rows("n_train", n_train, 1)
    _check_rows("n_test", n_test, 0)
    profile = load_profile()
    rng = np.random.default_rng(seed)
    aux_rng = np.random.default_rng([seed, AUX_STREAM])
    n = n_train + n_test
    series, target, behaviour = _generate_rows(profile, n, rng, aux_rng.standard_normal(n))
    ids = _draw_ids(profile, n, rng)
    full = pd.DataFrame({ID_COLUMN: ids, TARGET_COLUMN: target, **series})  # profile order
    return full, behaviour, aux_rng


def _split(full: pd.DataFrame, n_train: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train = full.iloc[:n_train].sort_values(ID_COLUMN, ignore_index=True)
    test = full.iloc[n_train:].drop(columns=[TARGET_COLUMN])
    return train, test.sort_values(ID_COLUMN, ignore_index=True)


def generate_demo(n_train: int, n_test: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demo application_train (with TARGET) and application_test frames, real schema and order.

    Same seed and sizes give identical frames. Train and test ids are disjoint.
    """
    full, _, _ = _generate(n_train, n_test, seed)
    return _split(full, n_train)


def generate_demo_tables(n_train: int, n_test: int, seed: int = 0) -> RawTables:
    """The application tables of ``generate_demo`` (identical) and the six auxiliary tables of
    their clients, train and test alike (``AUX_TABLES``). Same seed and sizes, same tables."""
    full, behaviour, aux_rng = _generate(n_train, n_test, seed)
    aux = generate_auxiliary(full[ID_COLUMN].to_numpy(), behaviour, aux_rng)
    train, test = _split(full, n_train)
    return RawTables(train=train, test=test, aux=aux)


def write_demo(
    out_dir: Path,
    rows: int,
    seed: int = 0,
    test_rows: int | None = None,
    fmt: Literal["parquet", "csv"] = "parquet",
) -> list[Path]:
    """Write the demo tables (application_train/test, then ``AUX_TABLES``); test defaults to
    rows // 5 (at least 1). An auxiliary table no client has rows in (a tiny demo) is not
    written: a file with no rows is not a valid table."""
    _check_rows("rows", rows, 1)
    n_test = max(rows // 5, 1) if test_rows is None else test_rows
    _check_rows("test_rows", n_test, 1)
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    tables = generate_demo_tables(rows, n_test, seed)
    # generate_demo_tables always makes both; the asserts narrow the types  # nosec B101
    assert tables.train is not None  # nosec B101
    assert tables.test is not None  # nosec B101
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = [(TRAIN_FILE, tables.train), (TEST_FILE, tables.test)]
    frames += [(name, tables.aux[name]) for name in AUX_TABLES if not tables.aux[name].empty]
    paths = []
    for stem, frame in frames:
        path = out_dir / f"{stem}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        paths.append(path)
    return paths
