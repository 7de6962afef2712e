"""Shared session fixtures: demo tables and a quickly trained bundle, built once per session
through the project's own CLI (the same commands a user runs)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO_ROWS = 3000


def _run(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scoring", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"python -m scoring {' '.join(args)} failed:\n{result.stderr[-3000:]}")


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of generated Home-Credit-shaped demo tables: application_train, _test and the six
    auxiliary tables of their clients (bureau, bureau_balance, previous_application, ...)."""
    out = tmp_path_factory.mktemp("demo-data")
    _run("demo-data", "--out", str(out), "--rows", str(DEMO_ROWS))
    return out


@pytest.fixture(scope="session")
def demo_bundle(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model bundle trained quickly on ``demo_data``."""
    out = tmp_path_factory.mktemp("demo-bundle") / "bundle"
    _run(
        "train", "--data", str(demo_data), "--out", str(out),
        "--folds", "3", "--n-estimators", "60", "--no-mlflow", "--quiet",
        "--candidates", "lightgbm",  # today's model, fast; the choice is tested in test_selection
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def demo_clients_folder(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo new clients as the API is given them: application_test and the clients'
    auxiliary tables, without the training table."""
    out = tmp_path_factory.mktemp("demo-clients")
    for path in demo_data.iterdir():
        if path.is_file() and not path.name.startswith("application_train"):
            shutil.copy(path, out / path.name)
    return out


@pytest.fixture(scope="session")
def demo_clients(demo_data: Path) -> Path:
    """The demo application_test file (the new clients)."""
    found = sorted(demo_data.glob("application_test*"))
    if not found:
        raise RuntimeError(f"no application_test file in {demo_data}")
    return found[0]
