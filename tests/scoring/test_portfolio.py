"""Portfolio batch scoring (python -m scoring batch): the pandas engine and the Spark engine give
every client the score, decision and reasons of the API's path, and reject bad rows by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.cli import main
from scoring.clients import ClientBase
from scoring.errors import DataValidationError
from scoring.model import ScoringModel
from scoring.portfolio import BAD_ID, REPEATED_ID, BatchOptions, output_columns, run_pandas
from scoring.reasons import top_contributions
from scoring.schema import ID

TOP = 3


def _expected(model: ScoringModel, base: ClientBase) -> pd.DataFrame:
    """What the API serves for each client: ClientBase features, one row at a time."""
    features = base.features()
    rows = []
    for cid, x in zip(features.index, features.to_numpy(dtype="float64"), strict=True):
        explanation = model.explain(x)
        score = model.score(x)
        top, _, _ = top_contributions(explanation, model, TOP)
        rows.append(
            {
                ID: int(cid),
                "probability": score.probability,
                "decision": score.decision,
                "decision_reason": score.decision_reason,
                **{f"reason_{k + 1}_feature": c.feature for k, c in enumerate(top)},
                **{f"reason_{k + 1}_shap": c.shap for k, c in enumerate(top)},
            }
        )
    return pd.DataFrame(rows).set_index(ID)


def _assert_same(out: Path, expected: pd.DataFrame, model: ScoringModel) -> None:
    got = pd.read_parquet(out / "scores").set_index(ID)
    assert list(got.reset_index().columns) == output_columns(TOP)
    assert sorted(got.index) == sorted(expected.index)
    got = got.loc[expected.index]
    np.testing.assert_allclose(got["probability"], expected["probability"], rtol=0, atol=1e-9)
    assert (got["decision"] == expected["decision"]).all()
    assert (got["decision_reason"] == expected["decision_reason"]).all()
    assert (got["model_version"] == model.version).all()
    for k in range(1, TOP + 1):
        assert (got[f"reason_{k}_feature"] == expected[f"reason_{k}_feature"]).all()
        np.testing.assert_allclose(
            got[f"reason_{k}_shap"], expected[f"reason_{k}_shap"], rtol=0, atol=1e-9
        )


@pytest.fixture(scope="module")
def expected(model: ScoringModel, client_base: ClientBase) -> pd.DataFrame:
    assert client_base.tables, "the demo clients must come with auxiliary tables"
    return _expected(model, client_base)


def _assert_done(out: Path) -> None:
    """Both folders are marked complete, and nothing but part files and the marker is left
    (no staged part)."""
    for sub in ("scores", "rejects"):
        names = {p.name for p in (out / sub).iterdir() if not p.name.endswith(".crc")}
        assert "_SUCCESS" in names
        assert all(n == "_SUCCESS" or n.startswith("part-") for n in names), names


def _bad_rows(demo_clients: Path) -> pd.DataFrame:
    """Demo applications with one bad id, one repeated id and one text amount."""
    raw = pd.read_parquet(demo_clients).head(40).astype({"AMT_INCOME_TOTAL": object})
    raw[ID] = raw[ID].astype(object)
    raw.loc[3, ID] = "abc"
    raw.loc[7, ID] = raw.loc[5, ID]
    raw.loc[9, "AMT_INCOME_TOTAL"] = "lots"
    return raw


def _assert_rejects(out: Path, raw: pd.DataFrame) -> None:
    rejects = pd.read_parquet(out / "rejects")
    scores = pd.read_parquet(out / "scores")
    assert len(scores) + len(rejects) == len(raw)  # none dropped silently
    by_reason = dict(zip(rejects["reason"], rejects[ID], strict=True))
    assert by_reason["SK_ID_CURR: missing or not an integer"] == "abc"
    assert by_reason["SK_ID_CURR: duplicated id (its first row is scored)"] == str(raw.loc[7, ID])
    assert by_reason["AMT_INCOME_TOTAL: expected a number, got 'lots'"] == str(raw.loc[9, ID])
    assert len(rejects) == 3
    row = json.loads(rejects.set_index(ID).loc["abc", "row"])
    # as given: a number from pandas, the text of the cell from Spark's CSV reader
    assert float(row["AMT_CREDIT"]) == pytest.approx(float(raw.loc[3, "AMT_CREDIT"]))
    assert int(raw.loc[5, ID]) in set(scores[ID])  # the first of the repeated id is scored


def test_pandas_engine_equals_the_api_path(
    demo_bundle: Path,
    demo_clients_folder: Path,
    model: ScoringModel,
    expected: pd.DataFrame,
    tmp_path: Path,
) -> None:
    options = BatchOptions(explain_top=TOP, chunk_rows=97, progress=False)  # many chunks
    summary = run_pandas(demo_bundle, demo_clients_folder, tmp_path / "out", options)
    assert (summary.scored, summary.rejected) == (len(expected), 0)
    assert summary.refused == int((expected["decision"] == "refuse").sum())
    assert len(list((tmp_path / "out" / "scores").glob("part-*.parquet"))) > 1
    _assert_same(tmp_path / "out", expected, model)
    _assert_done(tmp_path / "out")


def test_pandas_engine_rejects_bad_rows_with_the_reason(
    demo_bundle: Path, demo_clients: Path, tmp_path: Path
) -> None:
    raw = _bad_rows(demo_clients)
    raw.to_csv(tmp_path / "applications.csv", index=False)
    code = main(["batch", "--bundle", str(demo_bundle), "--input",
                 str(tmp_path / "applications.csv"), "--out", str(tmp_path / "out"),
                 "--chunk-rows", "6", "--quiet"])  # fmt: skip
    assert code == 0
    _assert_rejects(tmp_path / "out", raw)


def test_parts_keep_their_column_types_whatever_a_chunk_holds(
    demo_bundle: Path, demo_clients: Path, tmp_path: Path
) -> None:
    """A chunk whose only reject has no id, and a chunk with nothing to score: their parts
    still type every column, so the datasets read whole."""
    raw = _bad_typed_rows(demo_clients).head(8)  # row 3: no id, row 4: 100.5
    raw.loc[[5, 6], ID] = np.nan
    raw.loc[7, ID] = raw.loc[0, ID]  # rows 4-7: all rejects
    raw.to_parquet(tmp_path / "applications.parquet", index=False)
    options = BatchOptions(chunk_rows=4, progress=False)
    summary = run_pandas(demo_bundle, tmp_path / "applications.parquet", tmp_path / "out", options)
    assert (summary.scored, summary.rejected) == (3, 5)
    rejects = pd.read_parquet(tmp_path / "out" / "rejects")
    assert rejects[ID].isna().sum() == 3
    assert "100.5" in set(rejects[ID])
    scores = pd.read_parquet(tmp_path / "out" / "scores")
    assert len(scores) == 3
    assert scores[ID].dtype == "int64"
    assert scores["decision"].dtype == object


def test_a_missing_column_stops_the_run_before_any_write(
    demo_bundle: Path, demo_clients: Path, tmp_path: Path
) -> None:
    raw = pd.read_parquet(demo_clients).head(5).drop(columns=["AMT_CREDIT"])
    raw.to_parquet(tmp_path / "applications.parquet", index=False)
    with pytest.raises(DataValidationError, match="AMT_CREDIT"):
        run_pandas(demo_bundle, tmp_path / "applications.parquet", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["workers", "spark"])
def test_spark_engine_equals_the_api_path(
    demo_bundle: Path,
    demo_clients_folder: Path,
    model: ScoringModel,
    expected: pd.DataFrame,
    tmp_path: Path,
    reader: str,
) -> None:
    """The demo clients and their auxiliary tables (aggregated and joined in Spark), the
    applications read by the Python workers (a one-row-group file: a range per core) or by
    Spark."""
    pytest.importorskip("pyspark")
    from scoring.portfolio_spark import run_spark

    options = BatchOptions(explain_top=TOP, chunk_rows=128, progress=False, spark_io=reader)
    summary = run_spark(demo_bundle, demo_clients_folder, tmp_path / "out", options, "local[2]")
    assert (summary.scored, summary.rejected) == (len(expected), 0)
    _assert_same(tmp_path / "out", expected, model)
    _assert_done(tmp_path / "out")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    assert active is not None
    # a worker's Arrow batches are bounded by rows, with no size check after each row
    assert active.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch") == "128"
    assert active.conf.get("spark.sql.execution.arrow.maxBytesPerBatch") == str(2**31 - 1)


@pytest.mark.slow
def test_spark_engine_rejects_bad_rows_of_a_csv(
    demo_bundle: Path, demo_clients: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyspark")
    from scoring.portfolio_spark import run_spark

    options = BatchOptions(chunk_rows=128, progress=False)
    raw = _bad_rows(demo_clients)
    raw.to_csv(tmp_path / "applications.csv", index=False)  # Spark reads CSV cells as text
    run_spark(demo_bundle, tmp_path / "applications.csv", tmp_path / "bad", options, "local[2]")
    _assert_rejects(tmp_path / "bad", raw)


def _bad_typed_rows(demo_clients: Path) -> pd.DataFrame:
    """Typed demo applications (Parquet) with a missing id, a fractional id and two repeated
    ids (one in the rows just after its first, one 28 rows later)."""
    raw = pd.read_parquet(demo_clients).head(40)
    raw[ID] = raw[ID].astype("float64")
    raw.loc[3, ID] = np.nan
    raw.loc[4, ID] = 100.5
    raw.loc[7, ID] = raw.loc[5, ID]
    raw.loc[30, ID] = raw.loc[2, ID]
    return raw


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["workers", "spark"])
def test_spark_engine_checks_typed_rows_with_the_pandas_engines_rejects(
    demo_bundle: Path, demo_clients: Path, tmp_path: Path, reader: str
) -> None:
    """A typed (Parquet) input, in row groups of 8 rows: read by the Python workers (each a
    fragment, the repeats found by Spark across fragments) or by Spark (which rejects the bad
    ids itself), only the transform's columns are parsed; the rejects are the pandas
    engine's (ids, reasons, whole rows)."""
    pytest.importorskip("pyspark")
    from scoring.portfolio_spark import run_spark, session, typed

    raw = _bad_typed_rows(demo_clients)
    raw.to_parquet(tmp_path / "applications.parquet", index=False, row_group_size=8)
    raw.to_csv(tmp_path / "applications.csv", index=False)
    spark = session("local[2]")
    assert typed(spark.read.parquet(str(tmp_path / "applications.parquet")).schema)
    csv = spark.read.option("header", True).csv(str(tmp_path / "applications.csv"))
    assert not typed(csv.schema)  # text cells: the workers check every column
    # batches of 4 rows: rejects in the first and the second batch of a fragment (rows 3, 4, 7)
    # and in the second only (row 30), whose whole row is read past the first batch
    options = BatchOptions(chunk_rows=4, progress=False, spark_io=reader)
    source = tmp_path / "applications.parquet"
    summary = run_spark(demo_bundle, source, tmp_path / "spark", options, "local[2]")
    run_pandas(demo_bundle, source, tmp_path / "pandas", options)
    assert (summary.scored, summary.rejected) == (36, 4)

    def rejects(out: Path) -> list[tuple[object, str, dict[str, object]]]:
        frame = pd.read_parquet(out / "rejects")
        rows = [(i, r, json.loads(j)) for i, r, j in frame[[ID, "reason", "row"]].to_numpy()]
        return sorted(rows, key=lambda row: str(row[1]) + str(row[0]))

    spark_rejects, pandas_rejects = rejects(tmp_path / "spark"), rejects(tmp_path / "pandas")
    assert [r[:2] for r in spark_rejects] == [r[:2] for r in pandas_rejects]
    assert [r[2] for r in spark_rejects] == [r[2] for r in pandas_rejects]
    assert len(spark_rejects[0][2]) == len(raw.columns)  # the whole row, not the columns sent
    assert {r[1] for r in spark_rejects} == {BAD_ID, REPEATED_ID}
    scores = pd.read_parquet(tmp_path / "spark" / "scores").set_index(ID).sort_index()
    expected = pd.read_parquet(tmp_path / "pandas" / "scores").set_index(ID).sort_index()
    pd.testing.assert_index_equal(scores.index, expected.index)
    np.testing.assert_allclose(scores["probability"], expected["probability"], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_partition_keys_give_each_fragment_its_own_partition() -> None:
    """Rows keyed by partition_keys land one key per partition, in order: the workers' reader
    scores one fragment per task, none piled on a core."""
    pytest.importorskip("pyspark")
    from pyspark.sql import functions as sf

    from scoring.portfolio_spark import partition_keys, session

    spark = session("local[2]")
    for n in (1, 2, 5, 37):
        keys = partition_keys(spark, n)
        frame = spark.createDataFrame([(k, i) for i, k in enumerate(keys)], "k long, i int")
        placed = frame.repartition(n, "k").select("i", sf.spark_partition_id().alias("p"))
        assert sorted((r["i"], r["p"]) for r in placed.collect()) == [(i, i) for i in range(n)]
