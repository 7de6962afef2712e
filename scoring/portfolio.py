"""Portfolio batch scoring: raw applications in, a Parquet dataset of decisions out.

``python -m scoring batch`` re-scores a whole portfolio (millions of applications) with one
bundle. Two engines share the row logic of this module, so they give the same numbers as the
API and the CLI's ``score`` for the same client:

- features through the model's own ``FeatureBuilder.transform`` with the per-client aggregates of
  the auxiliary tables (``FeatureBuilder.aggregates`` / ``scoring.aggregates``), as ClientBase;
- the probability from ``ScoringModel.predict_proba`` and the decision from scoring.decision;
- top-K reasons from exact TreeSHAP (``pred_contrib``), ordered as ``top_contributions``
  (largest |SHAP| first, ties by feature name).

A bad row (missing or non-integer SK_ID_CURR, a repeated SK_ID_CURR, text in a numeric column)
goes to the rejects dataset with the reason naming the field and the row as it was given; it is
never dropped silently. A missing column is the file's fault and stops the run before any write.

This module is the pandas engine (chunks, a progress bar, memory bounded by the chunk size plus
the per-client aggregates); scoring/portfolio_spark.py is the Spark engine.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scoring.allocator import release_heap
from scoring.data import TEST_TABLE, TRAIN_TABLE, find_table_files, read_table
from scoring.decision import decide_all, missing_key_counts
from scoring.errors import DataValidationError
from scoring.fragments import plan, read_range
from scoring.model import ScoringModel
from scoring.schema import APPLICATION_KINDS, AUXILIARY_KEYS, ID

SCORES_DIR = "scores"
REJECTS_DIR = "rejects"
DEFAULT_CHUNK_ROWS = 50_000
REJECT_COLUMNS = [ID, "reason", "row"]
BAD_ID = f"{ID}: missing or not an integer"
REPEATED_ID = f"{ID}: duplicated id (its first row is scored)"
_REQUIRED = [ID, *APPLICATION_KINDS]


@dataclass(frozen=True)
class BatchOptions:
    explain_top: int = 0  # top-K SHAP reasons per client (0: score only)
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    threads: int = 1  # LightGBM threads per chunk (pandas engine)
    progress: bool = True
    # Spark engine: who reads a Parquet input and writes the results, the Python workers (paths
    # every executor sees) or Spark (any storage Spark reaches; more CPU: docs/batch.md)
    spark_io: str = "workers"


@dataclass(frozen=True)
class BatchSummary:
    scored: int
    refused: int
    rejected: int
    scores: Path
    rejects: Path


@dataclass(frozen=True)
class BatchInput:
    """Where the applications are, and the auxiliary tables beside them (a folder input)."""

    applications: Path
    aux: dict[str, Path]

    @classmethod
    def find(cls, path: Path) -> BatchInput:
        """A CSV/Parquet file of applications, or a folder holding one (application_test, or
        else application_train) and, optionally, the clients' auxiliary tables."""
        if path.is_file():
            return cls(path, {})
        if not path.is_dir():
            raise DataValidationError(str(path), None, "input not found")
        files = find_table_files(path)
        table = TEST_TABLE if TEST_TABLE in files else TRAIN_TABLE
        if table not in files:
            raise DataValidationError(
                str(path), None, f"no {TEST_TABLE} (or {TRAIN_TABLE}) file in the folder"
            )
        return cls(files[table], {t: files[t] for t in AUXILIARY_KEYS if t in files})


def output_columns(explain_top: int) -> list[str]:
    columns = [ID, "probability", "decision", "decision_reason", "model_version"]
    for k in range(1, explain_top + 1):
        columns += [f"reason_{k}_feature", f"reason_{k}_value", f"reason_{k}_shap"]
    return columns


def check_columns(columns: list[str], file: str, required: list[str] | None = None) -> None:
    """A missing column is the file's fault: stop before anything is written (`required`:
    SK_ID_CURR and every application column by default)."""
    missing = [c for c in (required or _REQUIRED) if c not in columns]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataValidationError(file, missing[0], f"required column is missing{more}")


@dataclass(frozen=True)
class ParsedRows:
    """One pass over raw application rows: why each row cannot be scored (None when it can)
    and, for the rows that can, their columns with the canonical dtypes of
    ``validate_application`` (numbers as float64, categories as text), as Series that share
    the parsed arrays (no frame is assembled)."""

    problems: np.ndarray  # object: None or the reason, per raw row
    valid: dict[str, pd.Series]  # the columns of the rows without problems


def _numbers(given: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """A numeric column as float64 and where it held text (None: a numeric dtype, no text)."""
    kind = given.dtype.kind
    if kind in "fiub":  # numbers already (Parquet, a parsed CSV column): nothing to check
        if kind == "f" and given.dtype == "float64":
            return given.to_numpy(), None
        return given.to_numpy(dtype="float64", na_value=np.nan), None
    values = pd.to_numeric(given, errors="coerce")
    bad = (values.isna() & given.notna()).to_numpy()
    return values.to_numpy(dtype="float64", na_value=np.nan), (bad if bad.any() else None)


def _texts(given: pd.Series) -> np.ndarray:
    """A category column as text, missing values kept missing (as validate_application)."""
    text = given.dtype == object and pd.api.types.infer_dtype(given, skipna=True)
    if text in ("string", "empty"):
        return given.to_numpy()  # text already (Parquet strings, a CSV's text): no conversion
    return given.where(given.isna(), given.astype(str)).astype(object).to_numpy()


def parse_rows(
    raw: pd.DataFrame, duplicated: np.ndarray | None = None, inputs: list[str] | None = None
) -> ParsedRows:
    """The checks ``validate_application`` makes of a whole file, made row by row and
    vectorised: the id must be an integer, given once (``duplicated`` marks repeats found
    elsewhere, e.g. in earlier chunks), and numeric columns must hold numbers or nothing. The
    first problem of a row (in that order, then by column) is its reason. `inputs`: the
    application columns to parse (all by default; the Spark engine's typed path sends only the
    transform's, its other checks made by Spark)."""
    n = len(raw)
    problems = np.full(n, None, dtype=object)
    ids, _ = _numbers(raw[ID])
    with np.errstate(invalid="ignore"):
        bad_id = ~np.isfinite(ids) | (ids != np.floor(ids))
    problems[bad_id] = BAD_ID
    earlier = np.zeros(n, dtype=bool) if duplicated is None else np.asarray(duplicated, dtype=bool)
    earlier &= ~bad_id
    here = pd.Series(np.where(bad_id | earlier, np.nan, ids))
    repeated = earlier | (here.duplicated().to_numpy() & here.notna().to_numpy())
    problems[repeated] = REPEATED_ID
    columns: dict[str, np.ndarray] = {}
    for column in APPLICATION_KINDS if inputs is None else inputs:
        kind, given = APPLICATION_KINDS[column], raw[column]
        if kind == "category":
            columns[column] = _texts(given)
            continue
        columns[column], text = _numbers(given)
        if text is not None:
            text &= pd.isna(problems)
            if text.any():
                problems[text] = (
                    f"{column}: expected a number, got "
                    + given[text].astype(str).str[:30].map(repr)
                ).to_numpy()
    good = pd.isna(problems)
    everything = bool(good.all())
    given_id = raw[ID]
    # integer ids as given (exact past 2**53); otherwise the parsed numbers, integers here
    exact = given_id.to_numpy(dtype="int64") if given_id.dtype.kind in "iu" else ids
    valid_ids = (exact if everything else exact[good]).astype("int64")
    valid = {ID: pd.Series(valid_ids, name=ID)}
    for column, values in columns.items():
        valid[column] = pd.Series(values if everything else values[good], name=column)
    return ParsedRows(problems, valid)


def _json_value(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, int | float | str | bool) else str(value)


def client_keys(ids: pd.Series) -> pd.arrays.IntegerArray:
    """SK_ID_CURR as given -> the client key (int64; missing where the id is missing or not an
    integer, a row parse_rows rejects): integer ids as given, exact past 2**53."""
    if ids.dtype.kind in "iu":
        return pd.arrays.IntegerArray(ids.to_numpy(dtype="int64"), np.zeros(len(ids), dtype=bool))
    numbers = pd.to_numeric(ids, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(numbers) & (numbers == np.floor(numbers))
    keys = np.zeros(len(numbers), dtype="int64")
    keys[usable] = numbers[usable].astype("int64")
    return pd.arrays.IntegerArray(keys, ~usable)


def no_rejects() -> pd.DataFrame:
    """The rejects of a chunk that has none."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})


def rejects_frame(
    raw: pd.DataFrame, problems: np.ndarray, columns: list[str] | None = None
) -> pd.DataFrame:
    """The rejected rows: the id as given, the reason, and the whole row (its `columns`, all by
    default) as JSON."""
    bad = ~pd.isna(problems)
    if not bad.any():
        return no_rejects()
    rows = raw.loc[bad, columns] if columns is not None else raw[bad]
    return pd.DataFrame(
        {
            ID: [None if _json_value(v) is None else str(v) for v in rows[ID]],
            "reason": problems[bad].astype(str),
            "row": [
                json.dumps({k: _json_value(v) for k, v in r.items()}, ensure_ascii=False)
                for r in rows.to_dict("records")
            ],
        },
        columns=REJECT_COLUMNS,
    )


def _top_reasons(
    model: ScoringModel, X: np.ndarray, shap: np.ndarray, top: int
) -> dict[str, np.ndarray]:
    """Top-K contributions per row by |SHAP| (`shap`: the rows' contributions, without the
    base value), ties by feature name (as top_contributions)."""
    names = np.array(model.feature_names, dtype=object)
    ranks = np.broadcast_to(np.argsort(np.argsort(names.astype(str))), shap.shape)
    order = np.lexsort((ranks, -np.abs(shap)), axis=1)[:, :top]
    rows = np.arange(len(X))[:, None]
    out: dict[str, np.ndarray] = {}
    for k in range(min(top, shap.shape[1])):
        index = order[:, k]
        out[f"reason_{k + 1}_feature"] = names[index].astype(str)
        out[f"reason_{k + 1}_value"] = X[rows[:, 0], index]
        out[f"reason_{k + 1}_shap"] = shap[rows[:, 0], index]
    return out


def score_applications(
    model: ScoringModel,
    applications: pd.DataFrame | dict[str, pd.Series],
    aggregates: pd.DataFrame | None,
    explain_top: int = 0,
    threads: int = 1,
) -> pd.DataFrame:
    """Scores (and top-K reasons) of validated application rows: the one feature path and the
    one decision rule, as the API and the CLI's ``score``."""
    columns = output_columns(explain_top)
    if len(applications[ID]) == 0:
        return _empty_scores(columns)
    if aggregates is None:
        aggregates = model.builder.aggregates({})
    ids, X, _ = model.builder.matrix(applications, aggregates=aggregates)
    if explain_top:
        # the probability from the explanation itself, as the API's explanations give it
        # (ScoringModel.explain): base + contributions is the raw score, so no second pass
        contributions = model.contributions(X, threads=threads)
        shap = contributions[:, :-1]
        probability = 1.0 / (1.0 + np.exp(-(contributions[:, -1] + shap.sum(axis=1))))
    else:
        probability = model.predict_proba(X, threads=threads)
    counts = missing_key_counts(X, model.feature_names, model.policy)
    verdicts = decide_all(probability, model.threshold, model.policy, counts)
    data: dict[str, object] = {
        ID: ids.to_numpy(dtype="int64"),
        "probability": probability,
        "decision": verdicts.decision.astype(str),
        "decision_reason": verdicts.reason.astype(str),
        "model_version": model.version,
    }
    if explain_top:
        data.update(_top_reasons(model, X, shap, explain_top))
    return pd.DataFrame(data).reindex(columns=columns)


def column_kind(column: str) -> str:
    """The type of a scores column: the id an int64, the probability and the reasons' values
    and SHAP values float64, the rest text ("string")."""
    if column == ID:
        return "int64"
    if column == "probability" or column.endswith(("_value", "_shap")):
        return "float64"
    return "string"


def _empty_scores(columns: list[str]) -> pd.DataFrame:
    kinds = {"int64": "int64", "float64": "float64", "string": "object"}
    return pd.DataFrame({c: pd.Series(dtype=kinds[column_kind(c)]) for c in columns})


def score_raw(
    model: ScoringModel,
    raw: pd.DataFrame,
    aggregates: pd.DataFrame | None,
    file: str,
    explain_top: int = 0,
    threads: int = 1,
    duplicated: np.ndarray | None = None,
    row_columns: list[str] | None = None,
    inputs: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw application rows -> (scores, rejects). Both engines call this on each chunk;
    `row_columns`: the columns a reject shows as its row (default: all of `raw`'s); `inputs`:
    the application columns `raw` must hold and that are parsed (default: all)."""
    check_columns(list(raw.columns), file, None if inputs is None else [ID, *inputs])
    rows = parse_rows(raw, duplicated, inputs)
    scores = score_applications(model, rows.valid, aggregates, explain_top, threads)
    return scores, rejects_frame(raw, rows.problems, row_columns)


# --- the pandas engine -----------------------------------------------------------------------


def iter_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """Application rows in chunks of at most `rows`, CSV or Parquet, parsed as read_table does."""
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            for fragment in plan(path, 1, rows):  # a row group each, a reader each
                yield from read_range(fragment, None, rows)
        else:
            yield from pd.read_csv(path, chunksize=rows, low_memory=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataValidationError(
            str(path), None, f"cannot be read ({type(exc).__name__})"
        ) from exc


def count_rows(path: Path) -> int | None:
    """Rows of a Parquet file from its footer (a CSV's count is unknown without reading it)."""
    if path.name.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def aux_aggregates(model: ScoringModel, source: BatchInput) -> pd.DataFrame:
    """Per-client aggregates of the auxiliary tables beside the applications (once per run)."""
    from scoring.data import validate_auxiliary

    tables = {
        table: validate_auxiliary(read_table(path), table, str(path))
        for table, path in source.aux.items()
    }
    return model.builder.aggregates(tables)


def prepare_out(out: Path) -> None:
    """A fresh output folder: an earlier run's parts must not mix with this run's."""
    if out.exists() and not out.is_dir():
        raise DataValidationError(str(out), None, "--out must be a folder")
    for sub in (SCORES_DIR, REJECTS_DIR):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
        (out / sub).mkdir(parents=True)


def write_part(out: Path, part: int, scores: pd.DataFrame, rejects: pd.DataFrame) -> None:
    """Part `part` of the scores (and of the rejects, when there are any), each file written
    under a name readers skip and then renamed: a part file is whole or absent, and a part
    written again (a Spark task retried) replaces the first. Each column has its type whatever
    the part holds: a part with no scores, or whose rejects all lack an id, must not write a
    column of nulls that the other parts' text contradicts (the dataset would not read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}
    for sub, frame in ((SCORES_DIR, scores), (REJECTS_DIR, rejects)):
        if sub == REJECTS_DIR and not len(frame):
            continue
        if sub == SCORES_DIR:
            schema = pa.schema([(c, kinds[column_kind(c)]) for c in frame.columns])
        else:  # the id as given, as text
            schema = pa.schema([(c, pa.string()) for c in frame.columns])
        final = out / sub / f"part-{part:05d}.parquet"
        staged = final.with_name(f"_{final.name}.{os.getpid()}")
        pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), staged)
        staged.replace(final)


DONE = "_SUCCESS"


def mark_done(out: Path) -> None:
    """Mark both folders complete once every part is written (Spark's committer writes the same
    empty ``_SUCCESS``): a reader can tell a finished run from one cut short."""
    for sub in (SCORES_DIR, REJECTS_DIR):
        (out / sub / DONE).touch()


def run_pandas(
    bundle: Path, input_path: Path, out: Path, options: BatchOptions | None = None
) -> BatchSummary:
    """Score a portfolio chunk by chunk into ``out/scores`` and ``out/rejects`` (part files)."""
    options = options or BatchOptions()
    from tqdm import tqdm

    model = ScoringModel.load(bundle)
    source = BatchInput.find(input_path)
    file = str(source.applications)
    chunks = iter_chunks(source.applications, options.chunk_rows)
    first = next(chunks, None)
    if first is None:
        raise DataValidationError(file, None, "the file has no rows")
    check_columns(list(first.columns), file)
    # chain drops its list (and the first chunk) before it reads the second
    every = itertools.chain([first], chunks)
    aggregates = aux_aggregates(model, source)
    prepare_out(out)
    seen = np.empty(0, dtype="int64")
    scored = refused = rejected = 0
    with tqdm(
        total=count_rows(source.applications),
        desc="batch (rows)",
        unit="row",
        disable=not options.progress,
        file=sys.stderr,
    ) as bar:
        del first  # the loop holds one chunk at a time
        for part, raw in enumerate(every):
            keys = client_keys(raw[ID])
            usable = ~keys.isna()
            ids = keys.to_numpy(dtype="int64", na_value=0)[usable]
            earlier = np.zeros(len(keys), dtype=bool)
            earlier[usable] = _sorted_contains(seen, ids)
            scores, rejects = score_raw(
                model, raw, aggregates, file, options.explain_top, options.threads, earlier
            )
            seen = _sorted_union(seen, ids)
            write_part(out, part, scores, rejects)
            scored += len(scores)
            refused += int((scores["decision"] == "refuse").sum())
            rejected += len(rejects)
            bar.update(len(raw))
            del raw, scores, rejects  # freed before the next chunk is read: one chunk at a time
            release_heap(collect=False)  # with bound_allocators (the CLI): memory flat
    mark_done(out)
    return BatchSummary(scored, refused, rejected, out / SCORES_DIR, out / REJECTS_DIR)


def _sorted_contains(seen: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which `ids` are in the sorted array `seen` (a binary search each: no sort of `seen`)."""
    if len(seen) == 0:
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(seen, ids), len(seen) - 1)
    return seen[at] == ids


def _sorted_union(seen: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The sorted union of `seen` (sorted) and `ids`: a merge of two sorted runs."""
    fresh = np.unique(ids)
    fresh = fresh[~_sorted_contains(seen, fresh)]
    return np.sort(np.concatenate([seen, fresh]), kind="stable")  # timsort: linear on two runs
