"""Parquet fragments (scoring/fragments.py): the plan covers every row of a
Parquet file once, in order, and the reads give the rows the pandas engine reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.errors import DataValidationError
from scoring.fragments import Fragment, plan, read_range
from scoring.portfolio import client_keys


def _file(tmp_path: Path, rows: int, group_rows: int) -> Path:
    frame = pd.DataFrame(
        {"SK_ID_CURR": np.arange(rows) + 100, "AMT": np.arange(rows) * 1.5, "K": ["a"] * rows}
    )
    path = tmp_path / "apps.parquet"
    frame.to_parquet(path, index=False, row_group_size=group_rows)
    return path


def _rows(fragments: list[Fragment], columns: list[str] | None, batch: int) -> pd.DataFrame:
    return pd.concat(
        [frame for f in fragments for frame in read_range(f, columns, batch)], ignore_index=True
    )


def test_a_fragment_per_row_group_when_there_are_enough_of_them(tmp_path: Path) -> None:
    path = _file(tmp_path, 25, 10)
    fragments = plan(path, cores=2, batch_rows=4)
    assert [(f.group, f.start, f.stop, f.position) for f in fragments] == [
        (0, 0, 10, 0),
        (1, 0, 10, 10),
        (2, 0, 5, 20),
    ]
    pd.testing.assert_frame_equal(_rows(fragments, None, 4), pd.read_parquet(path))


def test_a_single_row_group_is_split_in_whole_batches_over_the_cores(tmp_path: Path) -> None:
    path = _file(tmp_path, 25, 100)
    fragments = plan(path, cores=2, batch_rows=4)
    assert [(f.start, f.stop, f.position) for f in fragments] == [(0, 16, 0), (16, 25, 16)]
    frames = list(read_range(fragments[1], ["SK_ID_CURR"], 4))
    assert [len(f) for f in frames] == [4, 4, 1]  # batches of the range only
    assert list(frames[0].columns) == ["SK_ID_CURR"]
    # a range that does not start on a batch boundary is still read exactly
    odd = Fragment(str(path), 0, 5, 11, 5)
    assert _rows([odd], None, 4)["SK_ID_CURR"].tolist() == list(range(105, 111))
    pd.testing.assert_frame_equal(_rows(fragments, None, 4), pd.read_parquet(path))


def test_an_unreadable_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(DataValidationError, match=r"broken\.parquet"):
        plan(path, cores=2, batch_rows=4)


def test_client_keys_are_exact_integers_or_missing() -> None:
    big = 2**53 + 1
    assert client_keys(pd.Series([big, 7], dtype="int64")).tolist() == [big, 7]
    keys = client_keys(pd.Series([7.0, np.nan, 100.5, np.inf, 8.0]))
    assert keys.tolist() == [7, pd.NA, pd.NA, pd.NA, 8]
    assert client_keys(pd.Series(["9", "abc", None], dtype=object)).tolist() == [9, pd.NA, pd.NA]
