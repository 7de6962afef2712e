"""The real auxiliary tables (../shared aux_sample) through loading, training and the features.

They are heads of Kaggle's files, sharing a few dozen clients with the application samples: the
test proves the pipeline reads and aggregates the real schemas, not that they raise the score.
They are copied beside the application sample in a temporary folder, never into the repo.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.aggregates import AGGREGATORS
from scoring.aux_profile import build_aux_profile
from scoring.cli import main
from scoring.data import load_tables
from scoring.demo_tables import load_aux_profile
from scoring.model import ScoringModel
from scoring.schema import ID, NO_DATE

pytestmark = pytest.mark.realdata
REAL_AUX = ("bureau", "bureau_balance", "credit_card_balance", "previous_application")
FIRST_FEATURE = {
    "bureau": "BUREAU_LOAN_COUNT",
    "previous_application": "PREV_COUNT",
    "credit_card_balance": "CC_MONTHS",
}


@pytest.fixture(scope="module")
def real_folder(real_data: Path, real_aux: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("real-with-aux")
    for name in ("application_train_sample.parquet", "application_test_sample.parquet"):
        shutil.copy(real_data / name, folder / name)
    for table in REAL_AUX:
        shutil.copy(real_aux / f"{table}.parquet", folder / f"{table}.parquet")
    return folder


@pytest.fixture(scope="module")
def real_model(real_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> ScoringModel:
    out = tmp_path_factory.mktemp("real-aux-bundle") / "bundle"
    args = ["train", "--data", str(real_folder), "--out", str(out)]
    assert main([*args, "--folds", "2", "--n-estimators", "40", "--no-mlflow", "--quiet"]) == 0
    return ScoringModel.load(out)


def test_real_aux_tables_validate(real_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--data", str(real_folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:] == [
        "bureau: 3000 rows x 17 columns, valid",
        "bureau_balance: 3000 rows x 3 columns, valid",
        "previous_application: 3000 rows x 37 columns, valid",
        "credit_card_balance: 3000 rows x 23 columns, valid",
    ]


def test_real_aggregates_reach_the_features_of_exactly_the_clients_with_history(
    real_folder: Path, real_model: ScoringModel
) -> None:
    tables = load_tables(real_folder)
    assert tables.train is not None
    assert tables.test is not None
    assert real_model.builder.aux_tables == sorted(t for t in REAL_AUX if t in AGGREGATORS)
    assert not any(n.startswith(("POS_", "INST_")) for n in real_model.feature_names)
    with_history = 0
    for raw in (tables.train, tables.test):
        features = real_model.transform(raw, tables.aux)
        ids = features.index.to_series()
        for table, feature in FIRST_FEATURE.items():
            owners = tables.aux[table][ID]
            expected = ids.isin(owners).to_numpy()
            np.testing.assert_array_equal(features[feature].notna().to_numpy(), expected)
            counts = owners.value_counts().reindex(ids[expected]).to_numpy(dtype=float)
            np.testing.assert_array_equal(features.loc[expected, feature].to_numpy(), counts)
            with_history += int(expected.sum())
        # Real decisions are days before the application, never the 365243 placeholder.
        assert features["PREV_DAYS_DECISION_MEAN"].dropna().between(-2922, 0).all()
    assert with_history > 0
    assert (tables.aux["previous_application"]["DAYS_LAST_DUE"] == NO_DATE).any()


def test_train_clients_with_bureau_history_get_its_aggregates(
    real_folder: Path, real_model: ScoringModel
) -> None:
    tables = load_tables(real_folder)
    assert tables.train is not None
    bureau = tables.aux["bureau"]
    shared = sorted(set(bureau[ID]) & set(tables.train[ID]))
    assert shared  # the README: 8 bureau clients are in the train sample
    features = real_model.transform(tables.train, tables.aux).loc[shared]
    mine = bureau[bureau[ID].isin(shared)]
    active = (mine["CREDIT_ACTIVE"] == "Active").groupby(mine[ID]).sum()
    np.testing.assert_array_equal(features["BUREAU_ACTIVE_COUNT"], active.loc[shared])
    days = mine.groupby(ID)["DAYS_CREDIT"].mean()
    np.testing.assert_allclose(features["BUREAU_DAYS_CREDIT_MEAN"], days.loc[shared])


def test_committed_aux_profile_is_the_real_samples(real_aux: Path, tmp_path: Path) -> None:
    """`python -m scoring profile --aux` rebuilds the committed profile's schema and cells."""
    out = tmp_path / "aux_profile.json"
    assert main(["profile", "--aux", str(real_aux), "--out", str(out)]) == 0
    rebuilt = json.loads(out.read_text(encoding="utf-8"))
    committed = load_aux_profile()
    assert rebuilt.keys() == committed.keys()
    for table, entry in committed["tables"].items():
        real = pd.read_parquet(real_aux / f"{table}.parquet")
        assert [c["name"] for c in entry["columns"]] == list(real.columns)
        assert rebuilt["tables"][table]["columns"] == entry["columns"]
        cells = [
            (c["key"], c["share"], "laws" in c) for c in entry.get("cells", {}).get("cells", [])
        ]
        assert [
            (c["key"], c["share"], "laws" in c)
            for c in rebuilt["tables"][table].get("cells", {}).get("cells", [])
        ] == cells
        assert rebuilt["tables"][table]["missing_groups"] == entry["missing_groups"]
    assert (
        build_aux_profile({t: pd.read_parquet(real_aux / f"{t}.parquet") for t in REAL_AUX})[
            "tables"
        ]["bureau_balance"]
        == committed["tables"]["bureau_balance"]
    )
