"""The Spark engine of portfolio batch scoring (``python -m scoring batch --engine spark``).

The same row logic as the pandas engine (scoring/portfolio.py: one feature path, one decision
rule), run by PySpark so that it scales past one machine and runs unchanged on Databricks,
Synapse or HDInsight (docs/batch.md):

- the bundle is read once on the driver, packed as bytes and broadcast: each executor receives
  it once and each Python worker loads it once (then reuses it for every batch);
- the auxiliary tables are read by Spark; bureau_balance gets its SK_ID_CURR by a join with
  bureau; each table is grouped into hash buckets of clients (a bucket holds every row of its
  clients) and aggregated there by the core's own aggregators (scoring/aggregates.py), and the
  per-client aggregates are joined to the applications in Spark, never in the driver;
- repeated SK_ID_CURR are found by a window over two narrow columns (id, input position): only
  the positions of the repeats (rejects, usually none) reach the driver, and they are broadcast
  back, so the wide application rows are never sorted nor shuffled by id;
- when the input is typed (Parquet: SK_ID_CURR and every numeric column of a numeric type, so
  no cell can hold text), Spark decides every row check itself (a missing or non-integer id, a
  repeated id), writes those rejects (reason + the whole row as JSON) and sends to the Python
  workers only the rows that pass and only the columns the transform reads (SK_ID_CURR and
  ``APPLICATION_INPUTS``); text input (CSV) sends every column and the workers check them;
- applications are scored by ``mapInArrow`` in Arrow batches (each made a pandas frame of one
  block per column, not consolidated), straight from the file scan
  (spread over the cores first when the file has fewer parts than there are cores); the result
  is written as Parquet part files, rejects apart, with no collect of results to the driver.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scoring.aggregates import AGGREGATORS
from scoring.errors import DataValidationError
from scoring.features import APPLICATION_INPUTS
from scoring.model import ScoringModel
from scoring.portfolio import (
    BAD_ID,
    REJECTS_DIR,
    REPEATED_ID,
    SCORES_DIR,
    BatchInput,
    BatchOptions,
    BatchSummary,
    check_columns,
    output_columns,
    score_raw,
)
from scoring.schema import ID, NUMERIC_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.broadcast import Broadcast
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

KEY = "_key"  # the client id as a long, the join key of the aggregates
ROW = "_row"  # input order, to keep the first of repeated ids
_ID = "_id"  # the client id as a number, in the search for repeats
BUCKET = "_bucket"
_REJECT_ID, _REJECT_REASON, _REJECT_ROW = "_reject_id", "_reject_reason", "_reject_row"
LOCAL_SHUFFLE_PARTITIONS = 8
DAEMON_MODULE = "scoring.spark_daemon"
SPARK_BATCH_ROWS = 10_000  # rows per Arrow batch sent to a Python worker (at most)
NO_BYTE_LIMIT = 2**31 - 1  # spark.sql.execution.arrow.maxBytesPerBatch: no size check per row
LOCAL_JAVA_OPTIONS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"

_models: dict[str, ScoringModel] = {}  # per Python worker: bundle digest -> loaded bundle


def bundle_bytes(bundle: Path) -> bytes:
    """The bundle folder as an in-memory tar (what the broadcast ships)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(Path(bundle).iterdir()):
            if path.is_file():
                tar.add(path, arcname=path.name)
    return buffer.getvalue()


def model_of(payload: Broadcast[bytes], key: str) -> ScoringModel:
    """The bundle on a worker: unpacked and loaded (checksums verified) once per process;
    `key` is the digest of the packed bundle."""
    if key not in _models:
        folder = Path(tempfile.mkdtemp(prefix="scoring-bundle-"))
        with tarfile.open(fileobj=io.BytesIO(payload.value), mode="r") as tar:
            tar.extractall(folder, filter="data")
        _models[key] = ScoringModel.load(folder)
    return _models[key]


def session(master: str | None) -> SparkSession:
    """The active session (Databricks, Synapse), or a new one on `master` (e.g. local[2])."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("scoring-batch")
    if master and master.startswith("local"):
        # local workers run this interpreter (its virtualenv has the core); a cluster sets its own
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if master:
        builder = builder.master(master)
        if master.startswith("local"):
            builder = (
                builder.config("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                # workers forked from a daemon that has imported the core (scoring/spark_daemon.py)
                .config("spark.python.daemon.module", DAEMON_MODULE)
                # the driver is the executor: a short job on a few cores, where the JIT's and
                # the parallel collector's threads cost more than they return (docs/batch.md)
                .config(
                    "spark.driver.extraJavaOptions",
                    os.environ.get("SCORING_SPARK_JAVA_OPTIONS", LOCAL_JAVA_OPTIONS),
                )
            )
    return builder.getOrCreate()


def read(spark: SparkSession, path: Path | str) -> DataFrame:
    text = str(path)
    if text.lower().endswith(".parquet") or Path(text).is_dir():
        return spark.read.parquet(text)
    # every CSV column as text: the row checks parse numbers and reject what does not parse
    return spark.read.option("header", True).option("inferSchema", False).csv(text)


def _aggregate_schema(table: str) -> StructType:
    from pyspark.sql.types import DoubleType, LongType, StructField, StructType

    columns = AGGREGATORS[table](None, {}).columns
    return StructType(
        [StructField(KEY, LongType()), *(StructField(c, DoubleType()) for c in columns)]
    )


def _finish(result: pd.DataFrame) -> pd.DataFrame:
    frame = result.reset_index().rename(columns={ID: KEY})
    frame[KEY] = frame[KEY].astype("int64")
    return frame


def _single(table: str) -> Any:
    def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
        from scoring.data import validate_auxiliary

        rows = validate_auxiliary(frame.drop(columns=[BUCKET]), table, table)
        return _finish(AGGREGATORS[table](rows, {table: rows}))

    return aggregate


def _bureau(bureau: pd.DataFrame, balance: pd.DataFrame) -> pd.DataFrame:
    from scoring.data import validate_auxiliary

    if bureau.empty:
        return _finish(AGGREGATORS["bureau"](None, {}))
    rows = validate_auxiliary(bureau.drop(columns=[BUCKET]), "bureau", "bureau")
    tables = {"bureau": rows}
    if not balance.empty:
        balance = balance.drop(columns=[BUCKET, ID], errors="ignore")
        tables["bureau_balance"] = validate_auxiliary(balance, "bureau_balance", "bureau_balance")
    return _finish(AGGREGATORS["bureau"](rows, tables))


def aggregates(
    spark: SparkSession, model: ScoringModel, source: BatchInput, buckets: int
) -> list[DataFrame]:
    """Per-client aggregates of each auxiliary table the model uses, computed in Spark."""
    from pyspark.sql import functions as sf

    def bucketed(frame: DataFrame) -> DataFrame:
        return frame.withColumn(
            BUCKET, sf.pmod(sf.hash(sf.col(ID).try_cast("long")), sf.lit(buckets))
        )

    frames = []
    for table in model.builder.aux_tables:
        if table not in source.aux:
            continue  # absent: missing values, as in the pandas engine
        rows = bucketed(read(spark, source.aux[table]))
        if table == "bureau" and "bureau_balance" in source.aux:
            # a read of its own: joining `rows` with itself would be an ambiguous self-join
            owners = (
                read(spark, source.aux["bureau"])
                .select(
                    sf.col("SK_ID_BUREAU").try_cast("long").alias("SK_ID_BUREAU"),
                    sf.col(ID).try_cast("long").alias(ID),
                )
                .dropDuplicates(["SK_ID_BUREAU"])
            )
            balance = bucketed(
                read(spark, source.aux["bureau_balance"]).join(owners, "SK_ID_BUREAU")
            )
            grouped = (
                rows.groupBy(BUCKET)
                .cogroup(balance.groupBy(BUCKET))
                .applyInPandas(_bureau, _aggregate_schema(table))
            )
        else:
            grouped = rows.groupBy(BUCKET).applyInPandas(_single(table), _aggregate_schema(table))
        frames.append(grouped)
    return frames


def _result_schema(explain_top: int) -> StructType:
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    def kind(column: str) -> Any:
        if column == ID:
            return LongType()
        if column == "probability" or column.endswith(("_value", "_shap")):
            return DoubleType()
        return StringType()

    fields = [StructField(c, kind(c)) for c in output_columns(explain_top)]
    fields += [StructField(c, StringType()) for c in (_REJECT_ID, _REJECT_REASON, _REJECT_ROW)]
    return StructType(fields)


def _scorer(
    payload: Broadcast[bytes],
    key: str,
    app_columns: list[str],
    file: str,
    explain_top: int,
    repeats: Broadcast[np.ndarray],
    inputs: list[str] | None = None,
) -> Any:
    def score(records: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        model = model_of(payload, key)
        columns = output_columns(explain_top)
        schema = to_arrow_schema(_result_schema(explain_top))
        repeated = repeats.value
        for record in records:
            # one block per column: the wide batch is never consolidated into 2-D blocks
            batch = record.to_pandas(split_blocks=True)
            del record
            history = [c for c in batch.columns if c not in app_columns and not c.startswith("_")]
            aggregates = None
            if history:
                keys = batch[KEY]
                known = keys.notna().to_numpy()
                aggregates = batch.loc[known, history]  # the history columns only
                aggregates.index = pd.Index(keys[known].astype("int64"), name=ID)
                aggregates = aggregates[~aggregates.index.duplicated()].astype("float64")
            scores, rejects = score_raw(
                model,
                batch,  # read column by column: no copy of the wide batch
                aggregates,
                file,
                explain_top,
                threads=1,
                duplicated=np.isin(batch[ROW].to_numpy(dtype=np.int64), repeated),
                row_columns=app_columns,
                inputs=inputs,
            )
            rejected = pd.DataFrame(
                {
                    _REJECT_ID: rejects[ID].to_numpy(),
                    _REJECT_REASON: rejects["reason"].to_numpy(),
                    _REJECT_ROW: rejects["row"].to_numpy(),
                }
            )
            scores = scores.assign(**{_REJECT_ID: None, _REJECT_REASON: None, _REJECT_ROW: None})
            result = pd.concat(
                [scores, rejected.reindex(columns=[*columns, *rejected.columns])],
                ignore_index=True,
            ).astype({ID: "Int64"})
            yield pa.RecordBatch.from_pandas(result, schema=schema, preserve_index=False)

    return score


def bad_id(key: Column) -> Column:
    """The id (as a double) is missing or not an integer: parse_rows' first check, in Spark."""
    from pyspark.sql import functions as sf

    return key.isNull() | sf.isnan(key) | ((key % sf.lit(1.0)) != sf.lit(0.0))


def typed(schema: StructType) -> bool:
    """Whether Spark can make every row check but the transform's: SK_ID_CURR and every numeric
    application column are of a numeric type, so no cell can hold text (Parquet; not a CSV,
    read as text)."""
    from pyspark.sql.types import BooleanType, DecimalType, NumericType

    kinds = {f.name: f.dataType for f in schema.fields}

    def numeric(column: str) -> bool:
        kind = kinds.get(column)
        return isinstance(kind, NumericType | BooleanType) and not isinstance(kind, DecimalType)

    return all(numeric(c) for c in (ID, *NUMERIC_COLUMNS))


def repeated_rows(apps: DataFrame, key: Column, bad_ids: bool = False) -> np.ndarray:
    """Input positions (``ROW``) of the rows whose id was given earlier in the file (and, with
    `bad_ids`, of those whose id is missing or not an integer): only these narrow columns are
    shuffled, and only the positions are collected (they are rejects, so bounded by what the
    rejects file reports)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    first = Window.partitionBy(_ID).orderBy(ROW)
    rejected = (sf.col("_n") > 1) & sf.col(_ID).isNotNull()
    if bad_ids:
        rejected = rejected | bad_id(sf.col(_ID))
    later = (
        apps.select(key.alias(_ID), ROW)
        .withColumn("_n", sf.row_number().over(first))
        .where(rejected)
        .select(ROW)
    )
    return np.unique(np.array([int(r[ROW]) for r in later.collect()], dtype=np.int64))


def reject_rows(rows: DataFrame, key: Column, columns: list[str]) -> DataFrame:
    """The rejects of `rows` (all rejected by Spark's checks), as parse_rows and rejects_frame
    give them: the id as text, the first problem, the whole row as JSON (missing and NaN as
    null)."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import DoubleType, FloatType

    kinds = {f.name: f.dataType for f in rows.schema.fields}

    def plain(column: str) -> Column:
        value = sf.col(column)
        if isinstance(kinds[column], DoubleType | FloatType):
            return sf.when(~sf.isnan(value), value).alias(column)
        return value

    given = sf.col(ID)
    return rows.select(
        sf.when(~sf.isnan(given), given.cast("string")).alias(ID),
        sf.when(bad_id(key), sf.lit(BAD_ID)).otherwise(sf.lit(REPEATED_ID)).alias("reason"),
        sf.to_json(sf.struct(*(plain(c) for c in columns)), {"ignoreNullFields": "false"}).alias(
            "row"
        ),
    )


def run_spark(
    bundle: Path,
    input_path: Path,
    out: Path,
    options: BatchOptions | None = None,
    master: str | None = None,
) -> BatchSummary:
    """Score a portfolio with Spark into ``out/scores`` and ``out/rejects`` (Parquet datasets)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as sf

    options = options or BatchOptions()
    model = ScoringModel.load(bundle)  # fails here, on the driver, for a bad bundle
    source = BatchInput.find(input_path)
    file = str(source.applications)
    if out.exists() and not out.is_dir():
        raise DataValidationError(str(out), None, "--out must be a folder")
    spark = session(master)
    spark.sparkContext.setLogLevel("ERROR")
    # Arrow batches of at most SPARK_BATCH_ROWS: a Python worker holds one batch (as Arrow, as
    # pandas, as features) at a time, so its memory is set by the batch, not by the input
    batch_rows = min(options.chunk_rows, SPARK_BATCH_ROWS)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    # ...and by rows only: under a byte limit Spark sums the size of every Arrow vector after
    # each row it writes (BatchedPythonArrowInput), a quarter of the JVM task threads' CPU on
    # 1M rows (24.7 against 32.3 s, JFR); INT_MAX is the value that turns that check off
    spark.conf.set("spark.sql.execution.arrow.maxBytesPerBatch", str(NO_BYTE_LIMIT))
    packed = bundle_bytes(bundle)
    payload = spark.sparkContext.broadcast(packed)
    digest = hashlib.sha256(packed).hexdigest()
    apps = read(spark, source.applications)
    app_columns = list(apps.columns)
    check_columns(app_columns, file)
    key = sf.col(ID).try_cast("double")
    narrow = typed(apps.schema)  # Spark makes the row checks: the workers get what they read
    # the position in the input: the same for a scan of the same file (same splits)
    apps = apps.withColumn(ROW, sf.monotonically_increasing_id())
    skipped = repeated_rows(apps, key, bad_ids=narrow)
    repeats = spark.sparkContext.broadcast(np.empty(0, np.int64) if narrow else skipped)
    spark_rejects: DataFrame | None = None
    if narrow and len(skipped):
        marks = sf.broadcast(spark.createDataFrame([(int(r),) for r in skipped], f"{ROW} long"))
        spark_rejects = reject_rows(apps.join(marks, ROW, "left_semi"), key, app_columns)
        apps = apps.join(marks, ROW, "left_anti")
    cores = spark.sparkContext.defaultParallelism
    if apps.rdd.getNumPartitions() < cores:
        apps = apps.repartition(cores)  # a one-part file would be scored on one core
    inputs = APPLICATION_INPUTS if narrow else None
    sent = [ID, *APPLICATION_INPUTS] if narrow else app_columns
    apps = apps.select(*sent, ROW).withColumn(KEY, key.try_cast("long"))
    buckets = int(spark.conf.get("spark.sql.shuffle.partitions") or LOCAL_SHUFFLE_PARTITIONS)
    for history in aggregates(spark, model, source, buckets):
        apps = apps.join(history, KEY, "left")
    result = apps.mapInArrow(
        _scorer(payload, digest, sent, file, options.explain_top, repeats, inputs),
        _result_schema(options.explain_top),
    ).persist(StorageLevel.DISK_ONLY)  # scored once, read by the two writes and the counts
    try:
        scores = result.filter(sf.col(_REJECT_REASON).isNull()).select(
            *output_columns(options.explain_top)
        )
        rejects = result.filter(sf.col(_REJECT_REASON).isNotNull()).select(
            sf.col(_REJECT_ID).alias(ID),
            sf.col(_REJECT_REASON).alias("reason"),
            sf.col(_REJECT_ROW).alias("row"),
        )
        if spark_rejects is not None:
            rejects = rejects.unionByName(spark_rejects)
        scores.write.mode("overwrite").parquet(str(out / SCORES_DIR))
        rejects.write.mode("overwrite").parquet(str(out / REJECTS_DIR))
        counts = result.agg(
            sf.sum(sf.col(_REJECT_REASON).isNull().cast("long")).alias("scored"),
            sf.sum((sf.col("decision") == "refuse").cast("long")).alias("refused"),
            sf.sum(sf.col(_REJECT_REASON).isNotNull().cast("long")).alias("rejected"),
        ).first()
    finally:
        result.unpersist()
        payload.unpersist()
        repeats.unpersist()
    assert counts is not None  # an aggregate always has one row  # nosec B101
    return BatchSummary(
        int(counts["scored"] or 0),
        int(counts["refused"] or 0),
        int(counts["rejected"] or 0) + (len(skipped) if narrow else 0),
        out / SCORES_DIR,
        out / REJECTS_DIR,
    )
