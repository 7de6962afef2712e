"""Demo data: real schema, realistic laws, determinism, and a learnable but not trivial TARGET."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scoring.data import load_tables
from scoring.demo_aux import AUX_TABLES
from scoring.demo_data import generate_demo, load_profile, write_demo
from scoring.profile import ANOMALY_VALUE, build_profile

ROWS = 6000
TEST_ROWS = 1500


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate_demo(ROWS, TEST_ROWS, seed=7)


def _dtype(dtype: object) -> str:
    """The profile's dtype name: category labels are "str" (object under pandas 2)."""
    return "str" if pd.api.types.is_string_dtype(dtype) else str(dtype)


def _profile_schema() -> list[tuple[str, str]]:
    return [(col["name"], col["dtype"]) for col in load_profile()["columns"]]


def test_train_schema_equals_profile(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, _ = demo
    assert len(_profile_schema()) == 122
    assert [(name, _dtype(dtype)) for name, dtype in train.dtypes.items()] == _profile_schema()
    assert len(train) == ROWS


def test_test_schema_has_no_target(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, test = demo
    expected = [item for item in _profile_schema() if item[0] != "TARGET"]
    assert [(name, _dtype(dtype)) for name, dtype in test.dtypes.items()] == expected
    assert len(test) == TEST_ROWS


def test_same_seed_same_frames_other_seed_differs() -> None:
    first = generate_demo(300, 60, seed=3)
    second = generate_demo(300, 60, seed=3)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])
    assert not first[0].equals(generate_demo(300, 60, seed=4)[0])


def test_ids_unique_disjoint_and_in_real_range(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = demo
    first, last = load_profile()["id_range"]
    ids = pd.concat([train["SK_ID_CURR"], test["SK_ID_CURR"]])
    assert ids.is_unique
    assert ids.between(first, last).all()


def test_base_rate_near_real(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    assert 0.065 <= demo[0]["TARGET"].mean() <= 0.10


def test_days_employed_anomaly_marks_pensioners(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, _ = demo
    anomaly = train["DAYS_EMPLOYED"] == ANOMALY_VALUE
    assert 0.12 <= anomaly.mean() <= 0.24
    assert (train.loc[anomaly, "NAME_INCOME_TYPE"] == "Pensioner").all()
    assert (train.loc[anomaly, "ORGANIZATION_TYPE"] == "XNA").all()
    assert train.loc[anomaly, "DAYS_BIRTH"].mean() < train.loc[~anomaly, "DAYS_BIRTH"].mean()


def test_missing_rates_follow_profile(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, _ = demo
    expected = {col["name"]: col["missing_rate"] for col in load_profile()["columns"]}
    observed = train.isna().mean()
    for name, rate in expected.items():
        assert abs(observed[name] - rate) < 0.05, name


def test_coherences(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, _ = demo
    assert train["OWN_CAR_AGE"][train["FLAG_OWN_CAR"] == "N"].isna().all()
    assert (train["CNT_FAM_MEMBERS"] >= train["CNT_CHILDREN"] + 1).all()
    days = ["DAYS_BIRTH", "DAYS_REGISTRATION", "DAYS_ID_PUBLISH", "DAYS_LAST_PHONE_CHANGE"]
    assert (train[days].fillna(0) <= 0).all().all()
    employed = train["DAYS_EMPLOYED"][train["DAYS_EMPLOYED"] != ANOMALY_VALUE]
    assert (employed < 0).all()
    assert (train["AMT_GOODS_PRICE"] <= train["AMT_CREDIT"] * 1.05).mean() > 0.8
    term = train["AMT_CREDIT"] / train["AMT_ANNUITY"]
    assert term.between(5, 50).mean() > 0.97
    scores = train[["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]]
    assert ((scores > 0) & (scores < 1) | scores.isna()).all().all()


def test_categories_are_real_levels(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, _ = demo
    for col in load_profile()["columns"]:
        if col["kind"] == "categorical":
            levels = {level for level, _ in col["levels"]}
            assert set(train[col["name"]].dropna()) <= levels, col["name"]


def test_low_ext_sources_mean_more_defaults(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, _ = demo
    for name in ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"):
        by_target = train.groupby("TARGET")[name].mean()
        assert by_target[1] < by_target[0] - 0.05, name


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_demo_files_are_readable(tmp_path: Path, fmt: str) -> None:
    paths = write_demo(tmp_path, rows=50, seed=1, fmt=fmt)  # type: ignore[arg-type]
    assert [p.name for p in paths[:2]] == [f"application_train.{fmt}", f"application_test.{fmt}"]
    assert [p.name for p in paths[2:]] == [f"{table}.{fmt}" for table in AUX_TABLES]
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    train, test = (read(p) for p in paths[:2])
    assert train.shape == (50, 122)
    assert test.shape == (10, 121)
    assert list(train.columns) == [name for name, _ in _profile_schema()]


def test_write_demo_small_rows_keep_one_test_row(tmp_path: Path) -> None:
    paths = write_demo(tmp_path, rows=3)
    assert len(pd.read_parquet(paths[1])) == 1


def test_tiny_demo_skips_empty_auxiliary_tables_and_still_loads(tmp_path: Path) -> None:
    """Two clients with no card and no instalment loan: those tables are not written (a file
    with no rows is not a valid table), and the folder loads."""
    paths = write_demo(tmp_path, rows=1, test_rows=1, seed=10)
    written = [p.stem for p in paths[2:]]
    assert written == ["bureau", "previous_application"]
    tables = load_tables(tmp_path)
    assert list(tables.aux) == written


@pytest.mark.parametrize("rows", [0, -5])
def test_bad_rows_rejected(tmp_path: Path, rows: int) -> None:
    with pytest.raises(ValueError, match="rows must be at least 1"):
        write_demo(tmp_path, rows=rows)
    with pytest.raises(ValueError, match="n_train must be at least 1"):
        generate_demo(rows, 10)


def test_bad_test_rows_and_format_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="test_rows"):
        write_demo(tmp_path, rows=10, test_rows=0)
    with pytest.raises(ValueError, match="fmt"):
        write_demo(tmp_path, rows=10, fmt="xlsx")  # type: ignore[arg-type]


@pytest.mark.realdata
def test_profile_matches_real_sample(real_data: Path) -> None:
    train = pd.read_parquet(real_data / "application_train_sample.parquet")
    test = pd.read_parquet(real_data / "application_test_sample.parquet")
    committed = [(name, dtype) for name, dtype in _profile_schema()]
    assert committed == [(name, _dtype(dtype)) for name, dtype in train.dtypes.items()]
    rebuilt = build_profile(train, test, real_data / "HomeCredit_columns_description.csv")
    assert [col["name"] for col in rebuilt["columns"]] == list(train.columns)
    assert all(col["description"] for col in rebuilt["columns"])
    assert rebuilt["anomaly"]["rate"] == pytest.approx(load_profile()["anomaly"]["rate"])


@pytest.mark.slow
def test_lightgbm_learns_a_realistic_auc() -> None:
    lightgbm = pytest.importorskip("lightgbm")
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    train, _ = generate_demo(10_000, 1, seed=0)
    features = train.drop(columns=["SK_ID_CURR", "TARGET"])
    for name in features.columns:
        if not pd.api.types.is_numeric_dtype(features[name]):
            features[name] = features[name].astype("category").cat.codes
    model = lightgbm.LGBMClassifier(
        n_estimators=200, learning_rate=0.05, num_leaves=31, verbose=-1, n_jobs=2
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    auc = cross_val_score(model, features, train["TARGET"], cv=folds, scoring="roc_auc").mean()
    assert 0.70 <= auc <= 0.82
    model.fit(features, train["TARGET"])
    gain = pd.Series(model.booster_.feature_importance("gain"), index=features.columns)
    top = set(gain.nlargest(4).index)
    assert {"EXT_SOURCE_2", "EXT_SOURCE_3"} <= top
