"""Load and validate Home Credit raw tables from a folder of CSV or Parquet files.

Validation happens on load so that a bad file fails loudly, naming the file and the column,
before anything is trained or written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from scoring.errors import DataValidationError
from scoring.schema import (
    APPLICATION_KINDS,
    AUXILIARY_KEYS,
    AUXILIARY_NUMERIC,
    AUXILIARY_UNIQUE,
    BUREAU_STATUSES,
    ID,
    TARGET,
)

TRAIN_TABLE = "application_train"
TEST_TABLE = "application_test"
TABLE_NAMES = [TRAIN_TABLE, TEST_TABLE, *AUXILIARY_KEYS]
_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".csv.zip")


@dataclass
class RawTables:
    """The tables of one Home Credit extract. `aux` holds the optional tables that were found."""

    train: pd.DataFrame | None
    test: pd.DataFrame | None
    aux: dict[str, pd.DataFrame] = field(default_factory=dict)


def _stem(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def find_table_files(folder: Path) -> dict[str, Path]:
    """Map each known table name to its file in `folder`.

    A file belongs to the longest table name its stem starts with, so `bureau_balance.csv` is not
    taken for `bureau`, and `application_train_sample.parquet` is still found. Two files for one
    table is an error: guessing which one the user meant would be silent data loss.
    """
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        stem = _stem(path)
        if stem is None or not path.is_file():
            continue
        owners = [t for t in TABLE_NAMES if stem == t.lower() or stem.startswith(t.lower() + "_")]
        if not owners:
            continue
        table = max(owners, key=len)
        if table in found:
            raise DataValidationError(
                str(path), None, f"two files for table {table}: {found[table].name} and {path.name}"
            )
        found[table] = path
    return found


def read_table(path: Path) -> pd.DataFrame:
    """Read one CSV or Parquet file; an unreadable or empty file is a validation error."""
    if not path.is_file():
        raise DataValidationError(str(path), None, "file not found")
    try:
        if path.name.lower().endswith(".parquet"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataValidationError(str(path), None, "the file is empty") from None
    except Exception as exc:  # any parser error: report it as the file's fault, in one line
        raise DataValidationError(
            str(path), None, f"cannot be read ({type(exc).__name__})"
        ) from exc
    if frame.empty:
        raise DataValidationError(str(path), None, "the file has no rows")
    return frame


def _check_ids(frame: pd.DataFrame, file: str, column: str = ID) -> pd.Series:
    ids = pd.to_numeric(frame[column], errors="coerce")
    if ids.isna().any():
        raise DataValidationError(
            file, column, f"{int(ids.isna().sum())} missing or non-numeric ids"
        )
    if (ids != np.floor(ids)).any():
        raise DataValidationError(file, column, "ids must be integers")
    return ids.astype("int64")


def _coerce_numeric(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        example = str(raw[bad].iloc[0])[:30]
        raise DataValidationError(
            file,
            column,
            f"expected numbers, found {int(bad.sum())} non-numeric values (e.g. {example!r})",
        )
    return values.astype("float64")


def validate_application(frame: pd.DataFrame, file: str, with_target: bool) -> pd.DataFrame:
    """Check an application table against the schema and return it with canonical dtypes.

    Extra columns are dropped (the model never sees them); numeric columns become float64 (an
    integer column with a missing value cannot stay int64 anyway); categories become strings.
    """
    required = [ID, *([TARGET] if with_target else []), *APPLICATION_KINDS]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataValidationError(file, missing[0], f"required column is missing{more}")
    columns: dict[str, np.ndarray] = {}
    ids = _check_ids(frame, file)
    duplicated = ids.duplicated()
    if duplicated.any():
        raise DataValidationError(
            file,
            ID,
            f"{int(duplicated.sum())} duplicated ids (e.g. {int(ids[duplicated].iloc[0])})",
        )
    columns[ID] = ids.to_numpy()
    if with_target:
        target = pd.to_numeric(frame[TARGET], errors="coerce")
        if not target.isin([0, 1]).all():
            raise DataValidationError(file, TARGET, "TARGET must be 0 or 1 on every row")
        columns[TARGET] = target.astype("int8").to_numpy()
    for column, kind in APPLICATION_KINDS.items():
        if kind == "category":
            values = frame[column]
            text = values.where(values.isna(), values.astype(str))
            columns[column] = text.astype(object).to_numpy()
        else:
            columns[column] = _coerce_numeric(frame, column, file).to_numpy()
    return pd.DataFrame(columns)


def validate_auxiliary(frame: pd.DataFrame, table: str, file: str) -> pd.DataFrame:
    """Check an auxiliary table: its key columns with usable ids, each credit once, numbers
    where the aggregates read numbers, and bureau statuses Kaggle's (C, X, 0-5).

    Other columns are kept as they are: the aggregates read only the ones named in the schema.
    """
    for column in AUXILIARY_KEYS[table]:
        if column not in frame.columns:
            raise DataValidationError(file, column, "required column is missing")
    for column in AUXILIARY_KEYS[table]:
        if column.startswith("SK_ID"):
            frame[column] = _check_ids(frame, file, column).to_numpy()
    unique = AUXILIARY_UNIQUE.get(table)
    if unique is not None:
        repeated = frame[unique].duplicated()
        if repeated.any():
            example = int(frame[unique][repeated].iloc[0])
            raise DataValidationError(
                file, unique, f"{int(repeated.sum())} duplicated ids (e.g. {example})"
            )
    for column in AUXILIARY_NUMERIC[table]:
        if column in frame.columns:
            _coerce_numeric(frame, column, file)  # raises on text; the frame keeps its dtypes
    if table == "bureau_balance":
        status = frame["STATUS"].astype(str)
        unknown = ~status.isin(BUREAU_STATUSES)
        if unknown.any():
            raise DataValidationError(
                file,
                "STATUS",
                f"{int(unknown.sum())} unknown statuses (e.g. {status[unknown].iloc[0][:10]!r}); "
                f"expected one of {', '.join(BUREAU_STATUSES)}",
            )
    return frame


def load_application(path: Path, with_target: bool) -> pd.DataFrame:
    """Read and validate one application table file."""
    return validate_application(read_table(path), str(path), with_target)


def load_tables(
    folder: Path, require_train: bool = True, require_test: bool = True, with_train: bool = True
) -> RawTables:
    """Load every known table of a Home Credit extract in `folder`, validating each one
    (application_train only when `with_train`: scoring new clients does not need it)."""
    if not folder.is_dir():
        raise DataValidationError(str(folder), None, "data folder not found")
    files = find_table_files(folder)
    for table, required in ((TRAIN_TABLE, require_train), (TEST_TABLE, require_test)):
        if required and table not in files:
            raise DataValidationError(
                str(folder / f"{table}.csv"), None, f"required table {table} not found in {folder}"
            )
    train = (
        load_application(files[TRAIN_TABLE], True) if with_train and TRAIN_TABLE in files else None
    )
    test = load_application(files[TEST_TABLE], False) if TEST_TABLE in files else None
    aux = {
        table: validate_auxiliary(read_table(files[table]), table, str(files[table]))
        for table in AUXILIARY_KEYS
        if table in files
    }
    return RawTables(train=train, test=test, aux=aux)


def fingerprint(frame: pd.DataFrame, extra: Mapping[str, pd.DataFrame] | None = None) -> str:
    """A content hash of a table (and optional auxiliary tables): same data, same fingerprint."""
    digest = hashlib.sha256()
    for name, table in [("main", frame), *sorted((extra or {}).items())]:
        digest.update(name.encode())
        digest.update(",".join(map(str, table.columns)).encode())
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()
