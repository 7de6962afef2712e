"""MLflow tracking: a run records the parameters, metrics, tags and the bundle (tmp store only)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from scoring.bundle import CHECKSUMMED, load_bundle
from scoring.metadata import BundleMetadata
from scoring.tracking import EXPERIMENT, log_run

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(autouse=True)
def _no_file_store_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start without MLflow's file-store opt-in (log_run must set it) and restore it after."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "unset")  # recorded, so teardown restores it
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")


@pytest.fixture
def metadata(demo_bundle: Path) -> BundleMetadata:
    return load_bundle(demo_bundle).metadata


def _run(uri: str, run_id: str) -> Any:
    return mlflow.tracking.MlflowClient(tracking_uri=uri).get_run(run_id)


def test_log_run_records_params_metrics_and_bundle(
    demo_bundle: Path, metadata: BundleMetadata, tmp_path: Path
) -> None:
    uri = (tmp_path / "mlruns").as_uri()
    run_id = log_run(demo_bundle, metadata, tracking_uri=uri)
    assert run_id is not None
    run = _run(uri, run_id)
    assert run.info.run_name == metadata.version
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert float(params["threshold"]) == pytest.approx(metadata.threshold)
    assert params["folds"] == str(metadata.cv.folds)
    assert params["cost_fn"] == "10.0"
    assert params["cost_fp"] == "1.0"
    assert params["learning_rate"] == str(metadata.params["learning_rate"])
    assert params["n_estimators"] == str(metadata.params["n_estimators"])
    for name, value in metadata.metrics.model_dump().items():
        assert metrics[name] == pytest.approx(value), name
    assert tags["model_version"] == metadata.version
    assert tags["data_fingerprint"] == metadata.data.fingerprint
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    logged = {Path(a.path).name for a in client.list_artifacts(run_id, "bundle")}
    assert {*CHECKSUMMED, "metadata.json"} <= logged
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == EXPERIMENT


def test_tracking_uri_from_the_environment(
    demo_bundle: Path, metadata: BundleMetadata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = (tmp_path / "env-store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    run_id = log_run(demo_bundle, metadata)
    assert run_id is not None
    assert _run(uri, run_id).data.tags["model_version"] == metadata.version


def test_tracking_failure_is_logged_not_raised(
    demo_bundle: Path, metadata: BundleMetadata, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="scoring.tracking"):
        assert log_run(demo_bundle, metadata, tracking_uri="unknown-scheme://nowhere") is None
    assert "MLflow tracking failed" in caplog.text
    load_bundle(demo_bundle)  # the bundle is untouched


def test_cli_train_tracks_the_run(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoring.cli import main

    uri = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    bundle = tmp_path / "bundle"
    args = ["train", "--data", str(demo_data), "--out", str(bundle), "--quiet"]
    assert main([*args, "--folds", "2", "--n-estimators", "20"]) == 0
    version = load_bundle(bundle).metadata.version
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    assert [r.data.tags["model_version"] for r in runs] == [version]


def test_default_store_is_sqlite_under_mlruns(
    demo_bundle: Path,
    metadata: BundleMetadata,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    run_id = log_run(demo_bundle, metadata)
    assert run_id is not None
    store = tmp_path / "mlruns" / "mlflow.db"
    assert store.is_file()
    assert _run(f"sqlite:///{store}", run_id).data.tags["model_version"] == metadata.version
