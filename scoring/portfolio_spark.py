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
- repeated SK_ID_CURR are found by a window over narrow columns (id, input position), so the
  wide application rows are never sorted nor shuffled by id;
- a Parquet input is read by the Python workers themselves (``--spark-io workers``, the
  default; scoring/fragments.py): Spark hands each worker a fragment of the file (a row
  group, or a range of one) with, per row, the rank of its id in input order (a window over
  the narrow id rows) and its client's aggregates; the worker reads the fragment's columns
  that the transform reads (all of them when the file is not typed), scores them and writes the
  fragment's part files; the driver gets one row of counts per fragment and marks each
  folder done (``_SUCCESS``) last;
- otherwise (a CSV, or ``--spark-io spark`` for storage only Spark reaches) Spark reads the
  applications: when the input is typed (Parquet: SK_ID_CURR and every numeric column of a
  numeric type, so no cell can hold text), Spark decides every row check itself (a missing or
  non-integer id, a repeated id), writes those rejects (reason + the whole row as JSON) and
  sends to the Python workers only the rows that pass and only the columns the transform reads
  (SK_ID_CURR and ``APPLICATION_INPUTS``); text input (CSV) sends every column and the workers
  check them; only the positions of the repeats (rejects, usually none) reach the driver, and
  they are broadcast back; applications are scored by ``mapInArrow`` in Arrow batches (each
  made a pandas frame of one block per column, not consolidated), straight from the file scan
  (spread over the cores first when the file has fewer parts than there are cores); Spark
  writes the result as Parquet part files, rejects apart, with no collect of results to the
  driver.
"""

from __future__ import annotations

import hashlib
import io
import itertools
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
from scoring.fragments import Fragment, plan, read_range
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
    client_keys,
    column_kind,
    mark_done,
    no_rejects,
    output_columns,
    parse_rows,
    prepare_out,
    rejects_frame,
    score_applications,
    score_raw,
    write_part,
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
FRAG = "_frag"  # the fragment of the input a row is in (the workers' reader)
_PART = "_part"  # the key that sends a fragment's rows to the fragment's own partition
_N = "_n"  # the rank of a row among the rows of its id, in input order
_REJECT_ID, _REJECT_REASON, _REJECT_ROW = "_reject_id", "_reject_reason", "_reject_row"
LOCAL_SHUFFLE_PARTITIONS = 8
DAEMON_MODULE = "scoring.spark_daemon"
SPARK_BATCH_ROWS = 10_000  # rows per Arrow batch sent to a Python worker (at most)
NO_BYTE_LIMIT = 2**31 - 1  # spark.sql.execution.arrow.maxBytesPerBatch: no size check per row
LOCAL_JAVA_OPTIONS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"

_models: dict[str, ScoringModel] = {}  # per Python worker: bundle digest -> loaded bundle
_no_history: dict[str, pd.DataFrame] = {}  # per Python worker: digest -> empty aggregates


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


def aggregates(spark: SparkSession, model: ScoringModel, source: BatchInput) -> list[DataFrame]:
    """Per-client aggregates of each auxiliary table the model uses, computed in Spark (in as
    many client buckets as ``spark.sql.shuffle.partitions``)."""
    from pyspark.sql import functions as sf

    buckets = int(spark.conf.get("spark.sql.shuffle.partitions") or LOCAL_SHUFFLE_PARTITIONS)

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

    kinds = {"int64": LongType(), "float64": DoubleType(), "string": StringType()}
    fields = [StructField(c, kinds[column_kind(c)]) for c in output_columns(explain_top)]
    fields += [StructField(c, StringType()) for c in (_REJECT_ID, _REJECT_REASON, _REJECT_ROW)]
    return StructType(fields)


def _result(scores: pd.DataFrame, rejects: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Scores and rejects as one frame of the result schema (a reject's columns null for a
    score, and the other way round)."""
    rejected = pd.DataFrame(
        {
            _REJECT_ID: rejects[ID].to_numpy(),
            _REJECT_REASON: rejects["reason"].to_numpy(),
            _REJECT_ROW: rejects["row"].to_numpy(),
        }
    )
    scores = scores.assign(**{_REJECT_ID: None, _REJECT_REASON: None, _REJECT_ROW: None})
    return pd.concat(
        [scores, rejected.reindex(columns=[*columns, *rejected.columns])], ignore_index=True
    ).astype({ID: "Int64"})


def _history(
    batch: pd.DataFrame, columns: list[str], model: ScoringModel, key: str
) -> pd.DataFrame:
    """The aggregates joined to a batch (its `columns`), indexed by client key, one row per
    client; without auxiliary tables, the model's empty aggregates, built once per worker (a
    batch would otherwise build them again: 6.5 ms under cProfile, 0.65 µs a row of 10,000)."""
    if not columns:
        if key not in _no_history:
            _no_history[key] = model.builder.aggregates({})
        return _no_history[key]
    keys = batch[KEY]
    known = keys.notna().to_numpy()
    aggregates = batch.loc[known, columns]  # the history columns only
    aggregates.index = pd.Index(keys[known].astype("int64"), name=ID)
    return aggregates[~aggregates.index.duplicated()].astype("float64")


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
            aggregates = _history(batch, history, model, key)
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
            result = _result(scores, rejects, columns)
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


def partition_keys(spark: SparkSession, partitions: int) -> list[int]:
    """For each i < `partitions`, a long that ``repartition(partitions, column)`` sends to
    partition i (found with Spark's own hash, the one hash partitioning uses): rows keyed by
    their fragment's key make exactly one partition per fragment, where hashing the fragment
    indices would pile several fragments into some partitions and leave others empty."""
    from pyspark.sql import functions as sf

    candidates = partitions * 64  # the chance that a partition gets none: about e**-64
    while True:
        found = (
            spark.range(candidates)
            .groupBy(sf.pmod(sf.hash("id"), sf.lit(partitions)).alias("partition"))
            .agg(sf.min("id").alias("key"))
            .collect()
        )
        keys = {int(r["partition"]): int(r["key"]) for r in found}
        if len(keys) == partitions:
            return [keys[i] for i in range(partitions)]
        candidates *= 2


def _fragment_ids(fragments: list[Fragment], keys: list[int]) -> Any:
    """The narrow rows of the fragments whose indices a task gets: the fragment's partition
    key (`keys`), the fragment, the input position and the client key (read by the Python
    worker from the file: the id column only)."""

    def read(indices: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in indices:
            for index in batch.column(0).to_pylist():
                fragment = fragments[index]
                ids = pd.concat(list(read_range(fragment, [ID], fragment.rows)))[ID]
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(np.full(len(ids), keys[index], dtype=np.int64)),
                        pa.array(np.full(len(ids), index, dtype=np.int32)),
                        pa.array(np.arange(len(ids), dtype=np.int64) + fragment.position),
                        pa.array(client_keys(ids)),
                    ],
                    names=[_PART, FRAG, ROW, KEY],
                )

    return read


def _fragment_scorer(
    payload: Broadcast[bytes],
    key: str,
    fragments: list[Fragment],
    out: Path,
    explain_top: int,
    batch_rows: int,
    inputs: list[str] | None,
) -> Any:
    """A fragment scored by the worker that reads it: its rows from the file (the columns the
    transform reads when the input is typed, the whole row again for a reject), and from Spark,
    per row, whether its id came earlier in the input and its client's aggregates. The worker
    writes the fragment's part files itself and returns only its counts."""

    def score(group: pd.DataFrame) -> pd.DataFrame:
        model = model_of(payload, key)
        index = int(group[FRAG].to_numpy()[0])
        fragment = fragments[index]
        group = group.sort_values(ROW, ignore_index=True)
        expected = np.arange(fragment.rows, dtype=np.int64) + fragment.position
        if not np.array_equal(group[ROW].to_numpy(dtype=np.int64), expected):
            changed = f"{fragment.path}: row group {fragment.group} changed during the run"
            raise RuntimeError(changed)
        history = [c for c in group.columns if not c.startswith("_")]
        aggregates = _history(group, history, model, key)
        repeated = ((group[_N] > 1) & group[KEY].notna()).to_numpy()
        del group
        read = None if inputs is None else [ID, *inputs]
        scored, rejected, offset = [], [], 0
        # a reject shows the whole row: the fragment read again with every column, as far as
        # the batch of the reject (each batch decoded once however many batches have rejects)
        whole_rows, taken = read_range(fragment, None, batch_rows), 0
        for batch, raw in enumerate(read_range(fragment, read, batch_rows)):
            rows = parse_rows(raw, repeated[offset : offset + len(raw)], inputs)
            scored.append(score_applications(model, rows.valid, aggregates, explain_top, 1))
            if not pd.isna(rows.problems).all():
                if read is not None:
                    raw = next(itertools.islice(whole_rows, batch - taken, None))
                    taken = batch + 1
                rejected.append(rejects_frame(raw, rows.problems))
            offset += len(raw)
        scores = pd.concat(scored, ignore_index=True)
        rejects = pd.concat(rejected, ignore_index=True) if rejected else no_rejects()
        write_part(out, index, scores, rejects)
        refused = int((scores["decision"] == "refuse").sum())
        counts = {"scored": len(scores), "refused": refused, "rejected": len(rejects)}
        return pd.DataFrame({FRAG: [index], **{k: [v] for k, v in counts.items()}})

    return score


def _by_workers(
    spark: SparkSession,
    model: ScoringModel,
    source: BatchInput,
    scorer: tuple[Broadcast[bytes], str],
    out: Path,
    options: BatchOptions,
    inputs: list[str] | None,
) -> BatchSummary:
    """Score with the Python workers reading the applications from the file and writing the
    part files (scoring/fragments.py): Spark shuffles only the narrow (fragment,
    position, key) rows, for the repeated ids and the join of the aggregates, grouped back by
    fragment for the workers; the driver collects one row of counts per fragment."""
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    batch_rows = min(options.chunk_rows, SPARK_BATCH_ROWS)
    fragments = plan(source.applications, spark.sparkContext.defaultParallelism, batch_rows)
    if not fragments:
        raise DataValidationError(str(source.applications), None, "the file has no rows")
    prepare_out(out)
    keys = partition_keys(spark, len(fragments))
    ids = spark.range(len(fragments), numPartitions=len(fragments)).mapInArrow(
        _fragment_ids(fragments, keys), f"{_PART} long, {FRAG} int, {ROW} long, {KEY} long"
    )
    rows = ids.withColumn(_N, sf.row_number().over(Window.partitionBy(KEY).orderBy(ROW)))
    for history in aggregates(spark, model, source):
        rows = rows.join(history, KEY, "left")
    counts = (
        # exactly one partition per fragment, which also clusters the rows as the grouping
        # needs (it is by partition key first): no second shuffle
        rows.repartition(len(fragments), _PART)
        .groupBy(_PART, FRAG)
        .applyInPandas(
            _fragment_scorer(*scorer, fragments, out, options.explain_top, batch_rows, inputs),
            f"{FRAG} int, scored long, refused long, rejected long",
        )
        .collect()
    )
    mark_done(out)
    return BatchSummary(
        sum(int(c["scored"]) for c in counts),
        sum(int(c["refused"]) for c in counts),
        sum(int(c["rejected"]) for c in counts),
        out / SCORES_DIR,
        out / REJECTS_DIR,
    )


def _read_by_spark(
    spark: SparkSession,
    model: ScoringModel,
    source: BatchInput,
    apps: DataFrame,
    scorer: tuple[Broadcast[bytes], str],
    options: BatchOptions,
    narrow: bool,
    broadcasts: list[Broadcast[Any]],
) -> tuple[DataFrame, DataFrame | None, int]:
    """The result rows, the applications read by Spark (a CSV, or ``--spark-io spark``),
    the rejects Spark found itself (a typed input) and how many; what it broadcasts is added
    to `broadcasts` (released once the result is written)."""
    from pyspark.sql import functions as sf

    file = str(source.applications)
    app_columns = list(apps.columns)
    key = sf.col(ID).try_cast("double")
    # the position in the input: the same for a scan of the same file (same splits)
    apps = apps.withColumn(ROW, sf.monotonically_increasing_id())
    skipped = repeated_rows(apps, key, bad_ids=narrow)
    repeats = spark.sparkContext.broadcast(np.empty(0, np.int64) if narrow else skipped)
    broadcasts.append(repeats)
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
    for history in aggregates(spark, model, source):
        apps = apps.join(history, KEY, "left")
    result = apps.mapInArrow(
        _scorer(*scorer, sent, file, options.explain_top, repeats, inputs),
        _result_schema(options.explain_top),
    )
    return result, spark_rejects, len(skipped) if narrow else 0


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
    apps = read(spark, source.applications)  # lazy: the file's columns, no row read yet
    check_columns(apps.columns, str(source.applications))
    narrow = typed(apps.schema)  # no cell can hold text: the workers parse what the transform reads
    packed = bundle_bytes(bundle)
    payload = spark.sparkContext.broadcast(packed)
    scorer = (payload, hashlib.sha256(packed).hexdigest())
    if options.spark_io == "workers" and source.applications.name.lower().endswith(".parquet"):
        try:
            inputs = APPLICATION_INPUTS if narrow else None
            return _by_workers(spark, model, source, scorer, out, options, inputs)
        finally:
            payload.unpersist()
    broadcasts: list[Broadcast[Any]] = [payload]
    scored, spark_rejects, spark_rejected = _read_by_spark(
        spark, model, source, apps, scorer, options, narrow, broadcasts
    )
    result = scored.persist(StorageLevel.DISK_ONLY)  # scored once: two writes and the counts
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
        for broadcast in broadcasts:
            broadcast.unpersist()
    assert counts is not None  # an aggregate always has one row  # nosec B101
    return BatchSummary(
        int(counts["scored"] or 0),
        int(counts["refused"] or 0),
        int(counts["rejected"] or 0) + spark_rejected,
        out / SCORES_DIR,
        out / REJECTS_DIR,
    )
