"""Fixtures local to the scoring tests: small raw tables, writers, the loaded demo model.

The heavy session fixtures (`demo_data`, `demo_bundle`, `demo_clients`) live in tests/conftest.py
and are shared with the API tests; everything here is small and built in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.clients import ClientBase
from scoring.demo_data import generate_demo
from scoring.model import ScoringModel

SMALL_TRAIN = 400
SMALL_TEST = 60
REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "homecredit"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real Home Credit sample in ../shared; tests using it skip cleanly where it is absent
    (the project never copies it into the repository)."""
    if not (REAL_DATA / "application_train_sample.parquet").exists():
        pytest.skip(f"real Home Credit sample not found in {REAL_DATA}")
    return REAL_DATA


@pytest.fixture(scope="session")
def real_aux(real_data: Path) -> Path:
    """The real auxiliary sample (heads of bureau, bureau_balance, previous_application and
    credit_card_balance) in ../shared; skipped cleanly where it is absent."""
    folder = real_data / "aux_sample"
    if not (folder / "bureau.parquet").exists():
        pytest.skip(f"real auxiliary sample not found in {folder}")
    return folder


def write_table(folder: Path, table: str, frame: pd.DataFrame, fmt: str = "csv") -> Path:
    """Write `frame` as `folder/table.fmt` (csv or parquet) and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def small_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A few hundred demo rows (train with TARGET, test without), real schema."""
    return generate_demo(SMALL_TRAIN, SMALL_TEST, seed=11)


@pytest.fixture
def small_train(small_tables: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return small_tables[0].copy()


@pytest.fixture
def small_test(small_tables: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return small_tables[1].copy()


@pytest.fixture(scope="session")
def model(demo_bundle: Path) -> ScoringModel:
    """The demo bundle, loaded once (reads are thread-safe and side-effect free)."""
    return ScoringModel.load(demo_bundle)


@pytest.fixture(scope="session")
def client_base(model: ScoringModel, demo_clients_folder: Path) -> ClientBase:
    """The demo new clients with their auxiliary tables, as every surface loads them."""
    return ClientBase.load(demo_clients_folder, model.builder)


@pytest.fixture(scope="session")
def clients_raw(client_base: ClientBase) -> pd.DataFrame:
    """The validated demo new clients (raw application_test rows)."""
    return client_base.applications


@pytest.fixture(scope="session")
def clients_features(client_base: ClientBase) -> pd.DataFrame:
    """The demo new clients' model features, history included (index SK_ID_CURR)."""
    return client_base.features()


@pytest.fixture(scope="session")
def sample_rows(clients_features: pd.DataFrame) -> np.ndarray:
    """Eight model-ready rows, chosen to include missing values."""
    X = clients_features.to_numpy(dtype="float64")
    with_missing = np.flatnonzero(np.isnan(X).any(axis=1))[:4]
    others = np.arange(len(X))[::97][:4]
    return X[np.unique(np.concatenate([with_missing, others]))]
