"""Loader: every bad input fails with a DataValidationError naming the file and the column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.data import (
    find_table_files,
    fingerprint,
    load_tables,
    read_table,
    validate_application,
)
from scoring.errors import DataValidationError
from scoring.schema import APPLICATION_KINDS, ID, TARGET, TRAIN_COLUMNS
from tests.scoring.conftest import write_table

FORMATS = ["csv", "parquet"]
Mutation = Callable[[pd.DataFrame], pd.DataFrame]


def _folder(tmp_path: Path, fmt: str, train: pd.DataFrame, test: pd.DataFrame) -> tuple[Path, Path]:
    folder = tmp_path / "data"
    train_path = write_table(folder, "application_train", train, fmt)
    write_table(folder, "application_test", test, fmt)
    return folder, train_path


def _load_error(folder: Path) -> DataValidationError:
    with pytest.raises(DataValidationError) as caught:
        load_tables(folder)
    return caught.value


# --- a valid extract ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_valid_extract_loads_with_canonical_dtypes(
    tmp_path: Path, fmt: str, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    small_train["NOT_IN_SCHEMA"] = 1.0  # extra columns are dropped, not an error
    folder, _ = _folder(tmp_path, fmt, small_train, small_test)
    tables = load_tables(folder)
    assert tables.train is not None
    assert tables.test is not None
    assert list(tables.train.columns) == TRAIN_COLUMNS
    assert len(tables.train) == len(small_train)
    assert len(tables.test) == len(small_test)
    assert tables.train[ID].dtype == "int64"
    assert tables.train[TARGET].dtype == "int8"
    assert tables.train["AMT_CREDIT"].dtype == "float64"
    np.testing.assert_array_equal(tables.train[ID], small_train[ID])
    np.testing.assert_allclose(tables.train["AMT_CREDIT"], small_train["AMT_CREDIT"])
    assert tables.aux == {}


def test_csv_and_parquet_give_the_same_tables(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    csv, _ = _folder(tmp_path / "csv", "csv", small_train, small_test)
    parquet, _ = _folder(tmp_path / "parquet", "parquet", small_train, small_test)
    a, b = load_tables(csv), load_tables(parquet)
    assert a.train is not None
    assert b.train is not None
    pd.testing.assert_frame_equal(a.train, b.train, check_exact=False, rtol=1e-12)


def test_table_files_are_matched_by_longest_name(tmp_path: Path) -> None:
    for name in [
        "bureau.csv",
        "bureau_balance.csv",
        "application_train_sample.parquet",
        "notes.txt",
        "other.csv",
    ]:
        (tmp_path / name).write_text("x\n1\n")
    found = find_table_files(tmp_path)
    assert found == {
        "bureau": tmp_path / "bureau.csv",
        "bureau_balance": tmp_path / "bureau_balance.csv",
        "application_train": tmp_path / "application_train_sample.parquet",
    }


# --- application table errors ---------------------------------------------------------------


def _drop(column: str) -> Mutation:
    return lambda f: f.drop(columns=[column])


def _set(column: str, row: int, value: object) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        values = frame[column].astype(object)
        values.iloc[row] = value
        frame[column] = values if not isinstance(value, str) else values.astype(str)
        return frame

    return mutate


def _duplicate_id(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[3, ID] = frame.loc[0, ID]
    return frame


def _missing_id(frame: pd.DataFrame) -> pd.DataFrame:
    frame[ID] = frame[ID].astype("float64")
    frame.loc[5, ID] = np.nan
    return frame


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("mutate", "column", "message"),
    [
        pytest.param(_drop("AMT_CREDIT"), "AMT_CREDIT", "required column is missing", id="missing"),
        pytest.param(_drop(ID), ID, "required column is missing", id="no-id-column"),
        pytest.param(_drop(TARGET), TARGET, "required column is missing", id="no-target"),
        pytest.param(
            _set("AMT_INCOME_TOTAL", 7, "abc"), "AMT_INCOME_TOTAL", "non-numeric", id="wrong-type"
        ),
        pytest.param(_duplicate_id, ID, "1 duplicated ids", id="duplicated-id"),
        pytest.param(_missing_id, ID, "1 missing or non-numeric ids", id="missing-id"),
        pytest.param(_set(TARGET, 2, 2), TARGET, "TARGET must be 0 or 1", id="target-2"),
        pytest.param(_set(TARGET, 2, np.nan), TARGET, "TARGET must be 0 or 1", id="target-nan"),
    ],
)
def test_bad_application_train_names_file_and_column(
    tmp_path: Path,
    fmt: str,
    mutate: Mutation,
    column: str,
    message: str,
    small_train: pd.DataFrame,
    small_test: pd.DataFrame,
) -> None:
    folder, train_path = _folder(tmp_path, fmt, mutate(small_train), small_test)
    error = _load_error(folder)
    assert error.file == str(train_path)
    assert error.column == column
    assert message in error.message
    assert str(error).startswith(f"{train_path}, column {column}: ")


def test_wrong_type_error_quotes_an_example(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    folder, _ = _folder(
        tmp_path, "csv", _set("AMT_CREDIT", 4, "12 000 EUR")(small_train), small_test
    )
    error = _load_error(folder)
    assert error.column == "AMT_CREDIT"
    assert "found 1 non-numeric values (e.g. '12 000 EUR')" in error.message


def test_missing_column_counts_the_others(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    train = small_train.drop(columns=["AMT_CREDIT", "AMT_ANNUITY", "EXT_SOURCE_1"])
    folder, _ = _folder(tmp_path, "parquet", train, small_test)
    error = _load_error(folder)
    assert error.column == "AMT_CREDIT"  # the first missing one, in schema order
    assert error.message == "required column is missing (and 2 more)"


def test_non_integer_ids_rejected(small_train: pd.DataFrame) -> None:
    small_train[ID] = small_train[ID].astype("float64")
    small_train.loc[0, ID] = 100001.5
    with pytest.raises(DataValidationError, match="ids must be integers") as caught:
        validate_application(small_train, "f.csv", with_target=True)
    assert caught.value.column == ID


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_application_test_is_reported_on_the_test_file(
    tmp_path: Path, fmt: str, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    folder = tmp_path / "data"
    write_table(folder, "application_train", small_train, fmt)
    test_path = write_table(folder, "application_test", _drop("EXT_SOURCE_2")(small_test), fmt)
    error = _load_error(folder)
    assert (error.file, error.column) == (str(test_path), "EXT_SOURCE_2")


def test_application_test_needs_no_target(small_test: pd.DataFrame) -> None:
    frame = validate_application(small_test, "application_test.csv", with_target=False)
    assert TARGET not in frame.columns
    assert list(frame.columns) == [ID, *APPLICATION_KINDS]


# --- empty, missing and ambiguous files -----------------------------------------------------


def test_zero_byte_csv_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "application_train.csv"
    path.write_bytes(b"")
    with pytest.raises(DataValidationError, match="the file is empty") as caught:
        read_table(path)
    assert caught.value.file == str(path)
    assert caught.value.column is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_header_only_file_has_no_rows(
    tmp_path: Path, fmt: str, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    folder, train_path = _folder(tmp_path, fmt, small_train.iloc[:0], small_test)
    error = _load_error(folder)
    assert error.file == str(train_path)
    assert error.message == "the file has no rows"


def test_zero_byte_parquet_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "application_train.parquet"
    path.write_bytes(b"")
    with pytest.raises(DataValidationError, match=r"cannot be read \(") as caught:
        read_table(path)
    assert caught.value.file == str(path)


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "application_train.csv"
    with pytest.raises(DataValidationError, match="file not found") as caught:
        read_table(path)
    assert caught.value.file == str(path)


def test_data_folder_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="data folder not found") as caught:
        load_tables(tmp_path / "nowhere")
    assert caught.value.file == str(tmp_path / "nowhere")


def test_required_table_absent(tmp_path: Path, small_train: pd.DataFrame) -> None:
    folder = tmp_path / "data"
    write_table(folder, "application_train", small_train, "parquet")
    with pytest.raises(DataValidationError, match="required table application_test not found"):
        load_tables(folder)
    # ...but training alone does not need the new clients.
    assert load_tables(folder, require_test=False).test is None


def test_two_files_for_one_table(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    folder, _ = _folder(tmp_path, "csv", small_train, small_test)
    write_table(folder, "application_train", small_train, "parquet")
    error = _load_error(folder)
    assert "two files for table application_train" in error.message
    assert "application_train.csv" in error.message
    assert "application_train.parquet" in error.message


# --- auxiliary tables -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_auxiliary_table_missing_its_key(
    tmp_path: Path, fmt: str, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    folder, _ = _folder(tmp_path, fmt, small_train, small_test)
    bureau = pd.DataFrame({ID: small_train[ID].iloc[:3], "DAYS_CREDIT": [-10.0, -20.0, -30.0]})
    path = write_table(folder, "bureau", bureau, fmt)
    error = _load_error(folder)
    assert (error.file, error.column) == (str(path), "SK_ID_BUREAU")
    assert error.message == "required column is missing"


def test_auxiliary_table_with_missing_ids(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    folder, _ = _folder(tmp_path, "csv", small_train, small_test)
    previous = pd.DataFrame({ID: [small_train[ID].iloc[0], None], "SK_ID_PREV": [1, 2]})
    path = write_table(folder, "previous_application", previous, "csv")
    error = _load_error(folder)
    assert (error.file, error.column) == (str(path), ID)


def test_auxiliary_tables_are_loaded_when_present(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    folder, _ = _folder(tmp_path, "parquet", small_train, small_test)
    ids = small_train[ID].iloc[:2].to_numpy()
    write_table(folder, "bureau", pd.DataFrame({ID: ids, "SK_ID_BUREAU": [7, 8]}), "csv")
    tables = load_tables(folder)
    assert list(tables.aux) == ["bureau"]
    assert tables.aux["bureau"]["SK_ID_BUREAU"].tolist() == [7, 8]


# --- fingerprint ----------------------------------------------------------------------------


def test_fingerprint_follows_the_content(small_train: pd.DataFrame) -> None:
    same = fingerprint(small_train.copy())
    assert fingerprint(small_train) == same
    changed = small_train.copy()
    changed.loc[0, "AMT_CREDIT"] += 1
    assert fingerprint(changed) != same
    bureau = pd.DataFrame({ID: [1], "SK_ID_BUREAU": [2]})
    assert fingerprint(small_train, {"bureau": bureau}) != same


def _aux_error(
    tmp_path: Path,
    small_train: pd.DataFrame,
    small_test: pd.DataFrame,
    table: str,
    frame: pd.DataFrame,
) -> tuple[DataValidationError, Path]:
    folder, _ = _folder(tmp_path, "csv", small_train, small_test)
    path = write_table(folder, table, frame, "csv")
    return _load_error(folder), path


def test_auxiliary_credit_listed_twice(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    ids = small_train[ID].iloc[:3].to_numpy()
    bureau = pd.DataFrame({ID: ids, "SK_ID_BUREAU": [7, 8, 7]})
    error, path = _aux_error(tmp_path, small_train, small_test, "bureau", bureau)
    assert (error.file, error.column) == (str(path), "SK_ID_BUREAU")
    assert error.message == "1 duplicated ids (e.g. 7)"


def test_auxiliary_text_where_the_aggregates_read_numbers(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    ids = small_train[ID].iloc[:2].to_numpy()
    previous = pd.DataFrame({ID: ids, "SK_ID_PREV": [1, 2], "DAYS_DECISION": ["-10", "soon"]})
    error, path = _aux_error(tmp_path, small_train, small_test, "previous_application", previous)
    assert (error.file, error.column) == (str(path), "DAYS_DECISION")
    assert "expected numbers, found 1 non-numeric values (e.g. 'soon')" in error.message


def test_bureau_balance_status_must_be_kaggles(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    balance = pd.DataFrame(
        {"SK_ID_BUREAU": [7, 7, 7], "MONTHS_BALANCE": [0, -1, -2], "STATUS": ["C", "0", "L"]}
    )
    error, path = _aux_error(tmp_path, small_train, small_test, "bureau_balance", balance)
    assert (error.file, error.column) == (str(path), "STATUS")
    assert error.message.startswith("1 unknown statuses (e.g. 'L'); expected one of C, X, 0")


def test_auxiliary_tables_load_in_schema_order_and_keep_their_columns(
    tmp_path: Path, small_train: pd.DataFrame, small_test: pd.DataFrame
) -> None:
    folder, _ = _folder(tmp_path, "parquet", small_train, small_test)
    ids = small_train[ID].iloc[:2].to_numpy()
    write_table(
        folder,
        "previous_application",
        pd.DataFrame({ID: ids, "SK_ID_PREV": [1, 2], "DAYS_LAST_DUE": [365243.0, -30.0]}),
        "csv",
    )
    write_table(folder, "bureau", pd.DataFrame({ID: ids, "SK_ID_BUREAU": [7, 8]}), "csv")
    write_table(
        folder,
        "POS_CASH_balance",
        pd.DataFrame({ID: ids, "SK_ID_PREV": [1, 2], "MONTHS_BALANCE": [-1, -1]}),
        "parquet",
    )
    tables = load_tables(folder)
    assert list(tables.aux) == ["bureau", "previous_application", "POS_CASH_balance"]
    assert tables.aux["previous_application"]["DAYS_LAST_DUE"].tolist() == [365243.0, -30.0]
