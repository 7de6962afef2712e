"""Command line: the whole chain on demo data, help everywhere, and input errors exit 2 cleanly."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.aggregates import AGGREGATORS
from scoring.cli import EXIT_INPUT_ERROR, build_parser, main
from scoring.clients import load_client_tables
from scoring.demo_aux import AUX_TABLES
from scoring.model import ScoringModel
from tests.scoring.conftest import write_table

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    "demo-data", "validate", "train", "compare", "promote", "model-card", "score", "batch", "drift",
    "info", "profile",
]  # fmt: skip
FAST_TRAIN = ["--folds", "3", "--n-estimators", "80", "--no-mlflow", "--quiet"]


def _scoring(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args], capture_output=True, text=True, check=False
    )


def test_every_command_is_listed() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert sorted(subparsers.choices) == sorted(COMMANDS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_zero(command: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*([command] if command else []), "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m scoring")
    if command:
        assert command in out


def test_console_command_declared_in_pyproject_runs_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    module_name, _, function = project["project"]["scripts"]["scoring"].partition(":")
    entry = getattr(importlib.import_module(module_name), function)
    monkeypatch.setattr(sys, "argv", ["scoring", "--help"])
    with pytest.raises(SystemExit) as caught:
        entry()
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("usage: scoring [-h] COMMAND")
    # Same commands as python -m scoring: a bad input exits 2 with the same one-line error.
    missing = str(tmp_path / "none")
    monkeypatch.setattr(sys, "argv", ["scoring", "validate", "--data", missing])
    assert entry() == EXIT_INPUT_ERROR
    assert missing in capsys.readouterr().err
    assert main(["validate", "--data", missing]) == EXIT_INPUT_ERROR


def test_module_entry_point_help() -> None:
    result = _scoring("--help")
    assert result.returncode == 0
    assert "demo-data" in result.stdout
    assert "train" in result.stdout


def test_end_to_end_on_demo_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, bundle = tmp_path / "data", tmp_path / "bundle"
    scores_csv, cache = tmp_path / "out" / "scores.csv", tmp_path / "cache"

    assert main(["demo-data", "--out", str(data), "--rows", "1500", "--seed", "4"]) == 0
    written = capsys.readouterr().out.split()
    tables = ["application_train", "application_test", *AUX_TABLES]
    assert [Path(p).name for p in written] == [f"{table}.parquet" for table in tables]

    assert main(["validate", "--data", str(data)]) == 0
    aux_lines = []
    for table in AUX_TABLES:
        rows, columns = pd.read_parquet(data / f"{table}.parquet").shape
        aux_lines.append(f"{table}: {rows} rows x {columns} columns, valid")
    assert capsys.readouterr().out.splitlines() == [
        "application_train: 1500 rows x 122 columns, valid",
        "application_test: 300 rows x 121 columns, valid",
        *aux_lines,
    ]

    assert main(["train", "--data", str(data), "--out", str(bundle), *FAST_TRAIN]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 1500
    assert 0.6 < summary["metrics"]["auc"] <= 1
    assert 0 < summary["threshold"] < 1

    assert main(["info", "--bundle", str(bundle)]) == 0
    assert json.loads(capsys.readouterr().out) == summary

    args = ["score", "--bundle", str(bundle), "--data", str(data), "--out", str(scores_csv)]
    assert main([*args, "--cache-dir", str(cache), "--reasons"]) == 0
    assert capsys.readouterr().out.startswith("300 clients scored (")
    scores = pd.read_csv(scores_csv, float_precision="round_trip")
    assert list(scores.columns) == [
        "SK_ID_CURR",
        "probability",
        "decision",
        "decision_reason",
        "missing_key_features",
        "threshold",
        "model_version",
        "reasons_against",
        "reasons_for",
    ]
    assert len(scores) == 300
    assert len([p for p in cache.glob("scores-*") if p.is_dir()]) == 1  # one cache folder

    model = ScoringModel.load(bundle)
    assert (scores["model_version"] == model.version).all()
    expected = np.where(scores["probability"] >= model.threshold, "refuse", "grant")
    expected = np.where(
        scores["missing_key_features"] > model.policy.max_missing, "refer", expected
    )
    assert scores["decision"].tolist() == expected.tolist()
    assert model.builder.aux_tables == sorted(AGGREGATORS)  # trained with the demo's history
    clients = load_client_tables(data)
    assert clients.test is not None
    X = model.transform(clients.test, clients.aux).to_numpy()
    np.testing.assert_allclose(scores["probability"], model.predict_proba(X), atol=1e-12)
    assert scores["reasons_against"].fillna("").str.contains("raises the risk").any()

    # French reasons, Parquet output, from the cache this time.
    parquet = tmp_path / "scores.parquet"
    args = ["score", "--bundle", str(bundle), "--data", str(data), "--out", str(parquet)]
    assert main([*args, "--cache-dir", str(cache), "--reasons", "--lang", "fr"]) == 0
    french = pd.read_parquet(parquet)
    assert french["reasons_for"].fillna("").str.contains("réduit le risque").any()
    np.testing.assert_array_equal(french["probability"], scores["probability"])


def test_input_error_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    data, bundle = tmp_path / "data", tmp_path / "bundle"
    train_path = write_table(data, "application_train", small_train.drop(columns=["AMT_CREDIT"]))
    write_table(data, "application_test", small_test)
    result = _scoring("train", "--data", str(data), "--out", str(bundle), *FAST_TRAIN)
    assert result.returncode == EXIT_INPUT_ERROR
    assert result.stderr == (
        f"error: {train_path}, column AMT_CREDIT: required column is missing\n"
    )
    assert result.stdout == ""
    assert not bundle.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize(
    ("mutate", "column", "message"),
    [
        (lambda f: f.assign(TARGET=f["TARGET"].replace(0, 3)), "TARGET", "TARGET must be 0 or 1"),
        (lambda f: pd.concat([f, f.iloc[:1]]), "SK_ID_CURR", "duplicated ids"),
        (lambda f: f.assign(AMT_ANNUITY="n/a"), "AMT_ANNUITY", "expected numbers"),
    ],
    ids=["target", "duplicate", "type"],
)
def test_train_errors_in_process(
    tmp_path: Path,
    small_train: pd.DataFrame,
    small_test: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    mutate: object,
    column: str,
    message: str,
) -> None:
    data, bundle = tmp_path / "data", tmp_path / "bundle"
    write_table(data, "application_train", mutate(small_train), "parquet")  # type: ignore[operator]
    write_table(data, "application_test", small_test, "parquet")
    assert main(["train", "--data", str(data), "--out", str(bundle), *FAST_TRAIN]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {data / 'application_train.parquet'}, column {column}: ")
    assert message in err
    assert not bundle.exists()


FAST_COMPARE = ["--folds", "2", "--n-estimators", "30", "--trials", "1", "--inner-folds", "2"]
COMPARE_FILES = [
    "choice.json", "comparison.json", "comparison.md", "cost.png", "fairness.json", "roc.png"
]  # fmt: skip


@pytest.mark.slow
def test_compare_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = tmp_path / "data", tmp_path / "report"
    assert main(["demo-data", "--out", str(data), "--rows", "600", "--seed", "2"]) == 0
    capsys.readouterr()
    args = ["compare", "--data", str(data), "--out", str(out), *FAST_COMPARE, "--quiet"]
    assert main([*args, "--models", "scorecard", "blend"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert sorted(Path(line).name for line in printed[:-1]) == COMPARE_FILES
    assert sorted(p.name for p in out.iterdir()) == COMPARE_FILES
    rows = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert [r["model"] for r in rows] == ["scorecard", "lightgbm", "blend"]  # incumbent added
    for row in rows:
        assert len(row["fold_auc"]) == 2
        assert {"auc_mean", "auc_std", "business_cost", "threshold", "brier"} <= set(row)
    choice = json.loads((out / "choice.json").read_text(encoding="utf-8"))
    assert printed[-1] == f"winner: {choice['winner']}; default: {choice['default']}"
    assert choice["rows"] == 600
    assert choice["folds"] == 2
    assert choice["command"].startswith("python -m scoring compare --data ")
    fairness = json.loads((out / "fairness.json").read_text(encoding="utf-8"))
    assert choice["default"] in fairness["models"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "column EXT_SOURCE_2: required column is missing"),
        (["--models", "scorecard", "xgboost"], "unknown models: xgboost (known: dummy, "),
    ],
    ids=["column", "model"],
)
def test_compare_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, small_train: pd.DataFrame, extra: list[str], message: str
) -> None:
    data, out = tmp_path / "data", tmp_path / "report"
    frame = small_train.drop(columns=["EXT_SOURCE_2"]) if not extra else small_train
    path = write_table(data, "application_train", frame)
    result = _scoring("compare", "--data", str(data), "--out", str(out), *extra, "--quiet")
    assert result.returncode == EXIT_INPUT_ERROR
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    if not extra:
        assert result.stderr.startswith(f"error: {path}, column EXT_SOURCE_2")
    assert result.stdout == ""
    assert not out.exists()


def test_compare_needs_enough_rows_of_each_class_for_the_folds(
    tmp_path: Path, small_train: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "data", tmp_path / "report"
    defaults = small_train.index[small_train["TARGET"] == 1]
    path = write_table(data, "application_train", small_train.drop(index=defaults[2:]))
    assert main(["compare", "--data", str(data), "--out", str(out), "--folds", "3"]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"error: {path}, column TARGET: 3 folds need at least 3 rows of each class, got 2\n"
    )
    assert not out.exists()


def test_validate_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--data", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'none'}: data folder not found\n"


def test_info_on_a_broken_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bundle").mkdir()
    assert main(["info", "--bundle", str(tmp_path / "bundle")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "is not a model bundle: manifest.json is missing" in err
    assert err.count("\n") == 1


def test_score_with_bad_inputs_writes_nothing(
    tmp_path: Path, demo_bundle: Path, demo_clients: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, cache = tmp_path / "out" / "scores.csv", tmp_path / "cache"
    common = ["--out", str(out), "--cache-dir", str(cache)]
    missing = tmp_path / "missing"
    assert main(["score", "--bundle", str(missing), "--data", str(demo_clients), *common]) == 2
    assert "model bundle not found" in capsys.readouterr().err
    bad = write_table(tmp_path / "clients", "application_test", pd.DataFrame({"SK_ID_CURR": [1]}))
    assert main(["score", "--bundle", str(demo_bundle), "--data", str(bad), *common]) == 2
    assert "column NAME_CONTRACT_TYPE: required column is missing" in capsys.readouterr().err
    assert not out.parent.exists()
    assert not cache.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--data", "d", "--out", "b", "--folds", "0"],
        ["train", "--data", "d", "--out", "b", "--fn-cost", "0"],
        ["train", "--data", "d", "--out", "b", "--class-weight", "heavy"],
        ["demo-data", "--out", "d", "--rows", "-5"],
        ["score", "--bundle", "b", "--data", "d", "--out", "o", "--lang", "de"],
        ["train", "--data", "d"],
        ["compare", "--data", "d", "--out", "o", "--folds", "1"],
        ["nonsense"],
    ],
    ids=["folds", "fn-cost", "class-weight", "rows", "lang", "no-out", "compare-folds", "command"],
)
def test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_train_with_tuning(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    data, bundle = tmp_path / "data", tmp_path / "bundle"
    write_table(data, "application_train", small_train, "parquet")
    write_table(data, "application_test", small_test, "parquet")
    args = ["train", "--data", str(data), "--out", str(bundle), "--tune", "--trials", "2"]
    assert main([*args, "--folds", "2", "--n-estimators", "20", "--no-mlflow", "--quiet"]) == 0
    params = json.loads((bundle / "metadata.json").read_text())["params"]
    assert 0.01 <= params["learning_rate"] <= 0.1  # from the search space, not the default
    assert params["learning_rate"] != 0.02
    assert 4 <= params["num_leaves"] <= 64


def test_batch_passes_who_does_the_spark_io(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--spark-io reaches the Spark engine (workers by default); another value exits 2."""
    import scoring.portfolio_spark as spark_engine
    from scoring.portfolio import BatchOptions, BatchSummary

    given: list[BatchOptions] = []

    def fake(
        bundle: Path, source: Path, out: Path, options: BatchOptions, master: str | None
    ) -> BatchSummary:
        given.append(options)
        return BatchSummary(1, 0, 0, out / "scores", out / "rejects")

    monkeypatch.setattr(spark_engine, "run_spark", fake)
    common = ["batch", "--bundle", "b", "--input", "i", "--out", str(tmp_path), "--engine", "spark"]
    assert main(common) == 0
    assert main([*common, "--spark-io", "spark"]) == 0
    assert [o.spark_io for o in given] == ["workers", "spark"]
    with pytest.raises(SystemExit) as caught:
        main([*common, "--spark-io", "jvm"])
    assert caught.value.code == 2
