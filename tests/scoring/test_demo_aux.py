"""Auxiliary demo tables: Kaggle's schemas and conventions, keys that join, realistic counts,
determinism, and a risk signal the aggregates carry (tied to each client's default risk)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from scoring.data import RawTables, load_tables
from scoring.demo_aux import AUX_TABLES, generate_auxiliary
from scoring.demo_data import generate_demo, generate_demo_tables, write_demo
from scoring.demo_tables import load_aux_profile
from scoring.features import FeatureBuilder
from scoring.schema import AUXILIARY_KEYS, BUREAU_STATUSES, ID, NO_DATE, TARGET

TRAIN_ROWS = 4000
TEST_ROWS = 1000
PROFILED = ("bureau", "bureau_balance", "previous_application", "credit_card_balance")


@pytest.fixture(scope="module")
def demo() -> RawTables:
    return generate_demo_tables(TRAIN_ROWS, TEST_ROWS, seed=5)


def _dtype(dtype: object) -> str:
    """The profile's dtype name: category labels are "str" (object under pandas 2)."""
    return "str" if pd.api.types.is_string_dtype(dtype) else str(dtype)


def _clients(demo: RawTables) -> set[int]:
    assert demo.train is not None
    assert demo.test is not None
    return set(demo.train[ID]) | set(demo.test[ID])


def test_six_tables_with_their_keys(demo: RawTables) -> None:
    assert list(demo.aux) == list(AUX_TABLES)
    assert set(AUX_TABLES) == set(AUXILIARY_KEYS)
    for table, frame in demo.aux.items():
        assert not frame.empty, table
        assert set(AUXILIARY_KEYS[table]) <= set(frame.columns), table
        for key in AUXILIARY_KEYS[table]:
            assert frame[key].notna().all(), (table, key)


@pytest.mark.parametrize("table", PROFILED)
def test_profiled_tables_have_the_real_columns_and_dtypes(demo: RawTables, table: str) -> None:
    expected = [(c["name"], c["dtype"]) for c in load_aux_profile()["tables"][table]["columns"]]
    got = [(name, _dtype(dtype)) for name, dtype in demo.aux[table].dtypes.items()]
    assert got == expected


@pytest.mark.parametrize("table", ["POS_CASH_balance", "installments_payments"])
def test_unprofiled_tables_have_kaggles_described_columns(demo: RawTables, table: str) -> None:
    """No real sample of these two: their columns are those Kaggle's description lists, in order."""
    text = resources.files("scoring.resources").joinpath("column_descriptions.json").read_text()
    described = [name.strip() for name in json.loads(text)[table]]  # Kaggle wrote "SK_ID_PREV "
    assert demo.aux[table].columns.tolist() == described


def test_every_row_belongs_to_a_generated_client(demo: RawTables) -> None:
    clients = _clients(demo)
    for table, frame in demo.aux.items():
        if ID in frame.columns:
            assert set(frame[ID]) <= clients, table
    bureau_ids = set(demo.aux["bureau"]["SK_ID_BUREAU"])
    assert set(demo.aux["bureau_balance"]["SK_ID_BUREAU"]) <= bureau_ids
    assert demo.aux["bureau"]["SK_ID_BUREAU"].is_unique
    previous = demo.aux["previous_application"]
    assert previous["SK_ID_PREV"].is_unique
    approved = previous[previous["NAME_CONTRACT_STATUS"] == "Approved"]
    for table in ("POS_CASH_balance", "installments_payments", "credit_card_balance"):
        loans = demo.aux[table][["SK_ID_PREV", ID]].drop_duplicates()
        owners = approved.set_index("SK_ID_PREV")[ID]
        assert loans["SK_ID_PREV"].isin(owners.index).all(), table  # only approved loans
        assert (owners.loc[loans["SK_ID_PREV"]].to_numpy() == loans[ID].to_numpy()).all(), table


def test_train_and_test_clients_both_have_history(demo: RawTables) -> None:
    assert demo.train is not None
    assert demo.test is not None
    for table in ("bureau", "previous_application", "installments_payments"):
        owners = set(demo.aux[table][ID])
        assert owners & set(demo.train[ID]), table
        assert owners & set(demo.test[ID]), table


def test_realistic_shares_and_counts_some_clients_without_history(demo: RawTables) -> None:
    """Shares of clients with rows and rows per client near the full Kaggle tables'."""
    clients = len(_clients(demo))
    counts = {t: demo.aux[t].groupby(ID).size() for t in ("bureau", "previous_application")}
    assert 0.80 <= len(counts["bureau"]) / clients <= 0.92  # Kaggle: 86 %
    assert 0.90 <= len(counts["previous_application"]) / clients <= 0.99  # Kaggle: 95 %
    assert 4.5 <= counts["bureau"].mean() <= 6.5  # Kaggle: 5.6 per client with any
    assert 4.0 <= counts["previous_application"].mean() <= 6.0  # Kaggle: 4.9
    cards = demo.aux["credit_card_balance"][ID].nunique() / clients
    assert 0.10 <= cards <= 0.40  # Kaggle: 29 %
    months = demo.aux["POS_CASH_balance"].groupby("SK_ID_PREV").size()
    assert months.max() <= 12  # bounded history: the demo stays small
    assert demo.aux["bureau_balance"].groupby("SK_ID_BUREAU").size().max() <= 12


def test_kaggle_categories_and_sentinel(demo: RawTables) -> None:
    previous = demo.aux["previous_application"]
    assert set(previous["NAME_CONTRACT_STATUS"]) == {
        "Approved",
        "Refused",
        "Canceled",
        "Unused offer",
    }
    refused = previous["NAME_CONTRACT_STATUS"] == "Refused"
    assert (previous.loc[~refused, "CODE_REJECT_REASON"].isin(["XAP", "CLIENT"])).all()
    assert not previous.loc[refused, "CODE_REJECT_REASON"].isin(["XAP"]).any()
    # No due dates for what was never granted; 365243 ("no date") for loans still running.
    assert (
        previous.loc[previous["NAME_CONTRACT_STATUS"] != "Approved", "DAYS_FIRST_DUE"].isna().all()
    )
    assert (previous["DAYS_LAST_DUE"] == NO_DATE).mean() > 0.05
    assert (previous["DAYS_FIRST_DRAWING"] == NO_DATE).mean() > 0.3
    dated = previous["DAYS_DECISION"]
    assert ((dated < 0) & (dated >= -2922)).all()
    assert set(demo.aux["bureau_balance"]["STATUS"]) <= set(BUREAU_STATUSES)
    assert {"C", "X", "0", "1"} <= set(demo.aux["bureau_balance"]["STATUS"])
    assert set(demo.aux["bureau"]["CREDIT_ACTIVE"]) <= {"Active", "Closed", "Sold", "Bad debt"}
    for table in PROFILED:
        laws = load_aux_profile()["tables"][table]["laws"]
        for name, law in laws.items():
            if "levels" in law:
                levels = {level for level, _ in law["levels"]}
                assert set(demo.aux[table][name].dropna()) <= levels, (table, name)


def test_dates_are_coherent(demo: RawTables) -> None:
    bureau = demo.aux["bureau"]
    closed = bureau["CREDIT_ACTIVE"] == "Closed"
    assert bureau.loc[closed, "DAYS_ENDDATE_FACT"].notna().mean() > 0.95
    assert (bureau["DAYS_ENDDATE_FACT"].dropna() >= bureau.loc[closed, "DAYS_CREDIT"].min()).all()
    assert (bureau["DAYS_CREDIT_ENDDATE"].fillna(0) >= bureau["DAYS_CREDIT"]).all()
    pay = demo.aux["installments_payments"]
    assert (pay["DAYS_INSTALMENT"] < 0).all()
    assert (pay["DAYS_ENTRY_PAYMENT"].dropna() < 0).all()
    pos = demo.aux["POS_CASH_balance"]
    assert (pos["MONTHS_BALANCE"] <= -1).all()
    assert (pos["CNT_INSTALMENT_FUTURE"].dropna() <= pos["CNT_INSTALMENT"].dropna()).all()
    cards = demo.aux["credit_card_balance"]
    assert (cards["AMT_BALANCE"] >= 0).all()
    assert (cards["SK_DPD_DEF"] <= cards["SK_DPD"]).all()


def test_same_seed_same_tables_other_seed_differs() -> None:
    first = generate_demo_tables(300, 60, seed=3)
    second = generate_demo_tables(300, 60, seed=3)
    for table in AUX_TABLES:
        pd.testing.assert_frame_equal(first.aux[table], second.aux[table])
    other = generate_demo_tables(300, 60, seed=4)
    assert not first.aux["bureau"].equals(other.aux["bureau"])


def test_no_clients_give_empty_tables_with_the_columns() -> None:
    tables = generate_auxiliary(
        np.array([], dtype=np.int64), np.array([]), np.random.default_rng(0)
    )
    assert list(tables) == list(AUX_TABLES)
    for table, frame in tables.items():
        assert frame.empty, table
        assert set(AUXILIARY_KEYS[table]) <= set(frame.columns), table


def test_application_tables_are_generate_demos() -> None:
    """The auxiliary tables draw from their own stream: the application rows are the same."""
    tables = generate_demo_tables(300, 60, seed=8)
    train, test = generate_demo(300, 60, seed=8)
    pd.testing.assert_frame_equal(tables.train, train)
    pd.testing.assert_frame_equal(tables.test, test)


def test_history_carries_the_default_risk(demo: RawTables) -> None:
    """Riskier clients pay late and are refused more: the aggregates rank defaults."""
    assert demo.train is not None
    builder = FeatureBuilder().fit(demo.train, demo.aux)
    X = builder.transform(demo.train, demo.aux)
    y = demo.train[TARGET].to_numpy()
    for feature, sign in [
        ("INST_LATE_SHARE", 1),
        ("POS_DPD_MEAN", 1),
        ("BUREAU_LATE_MONTH_SHARE", 1),
        ("PREV_REFUSED_SHARE", 1),
        ("INST_PAID_RATIO", -1),
        ("CC_UTILISATION_MEAN", 1),
    ]:
        present = X[feature].notna().to_numpy()
        rho = spearmanr(X.loc[present, feature], y[present]).statistic
        assert sign * rho > 0.05, (feature, rho)
    late = X["INST_LATE_SHARE"] > 0
    assert y[late.to_numpy()].mean() > 1.3 * y[(X["INST_LATE_SHARE"] == 0).to_numpy()].mean()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_written_tables_load_and_validate(tmp_path: Path, fmt: str) -> None:
    paths = write_demo(tmp_path, rows=200, seed=2, fmt=fmt)  # type: ignore[arg-type]
    stems = ["application_train", "application_test", *AUX_TABLES]
    assert [p.name for p in paths] == [f"{stem}.{fmt}" for stem in stems]
    loaded = load_tables(tmp_path)
    expected = generate_demo_tables(200, 40, seed=2)
    assert list(loaded.aux) == list(AUX_TABLES)
    for table in AUX_TABLES:
        frame = loaded.aux[table]
        assert frame.shape == expected.aux[table].shape, table
        np.testing.assert_array_equal(
            frame[ID if ID in frame else "SK_ID_BUREAU"],
            expected.aux[table][ID if ID in frame else "SK_ID_BUREAU"],
        )
