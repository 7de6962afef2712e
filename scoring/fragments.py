"""Parquet fragments: a file planned as row groups (or ranges of one) and read fragment by
fragment, each fragment by a reader of its own.

The pandas engine reads a Parquet input this way, a fragment after the other
(scoring.portfolio.iter_chunks). The Spark engine's Python workers read it this way too
(``--spark-io workers``, docs/batch.md), so the wide application rows never cross the JVM. The
driver plans the fragments, and Spark distributes the fragments' indices. A worker opens its
fragment with pyarrow, reads the columns it needs and writes the fragment's part files. Spark
still decides what needs every row at once (the repeated ids, the join of the auxiliary
aggregates) on narrow columns: the fragment, the row's position in the input and the client id.

This module is the plan and the reads, pure functions of the file (no Spark)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from scoring.errors import DataValidationError


@dataclass(frozen=True)
class Fragment:
    """Rows [start, stop) of row group `group` of the Parquet file `path`; `position`: the
    input position (row number in the file) of its first row."""

    path: str
    group: int
    start: int
    stop: int
    position: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


def plan(path: Path, cores: int, batch_rows: int) -> list[Fragment]:
    """The fragments of a Parquet file: one per row group, each row group split into ranges of
    whole batches (`batch_rows`) when the file has fewer row groups than `cores` (a
    one-row-group file is then read by every core, each decoding the batches before its range)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, ValueError) as exc:
        why = f"cannot be read ({type(exc).__name__})"
        raise DataValidationError(str(path), None, why) from exc
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    splits = max(1, math.ceil(cores / max(1, sum(n > 0 for n in sizes))))
    fragments, position = [], 0
    for group, rows in enumerate(sizes):
        step = max(batch_rows, math.ceil(rows / splits / batch_rows) * batch_rows)
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            fragments.append(Fragment(str(path), group, start, stop, position + start))
        position += rows
    return fragments


def read_range(
    fragment: Fragment, columns: list[str] | None, batch_rows: int
) -> Iterator[pd.DataFrame]:
    """The fragment's rows in frames of at most `batch_rows` (its `columns`, all by default)."""
    import pyarrow.parquet as pq

    offset = 0  # of the batch in the row group
    # a reader per fragment: a reader over the whole file keeps read-ahead buffers that grow
    # with the row groups it has read (+100 MiB over a 1M-row file, measured)
    file = pq.ParquetFile(fragment.path)
    for batch in file.iter_batches(
        batch_size=batch_rows, row_groups=[fragment.group], columns=columns
    ):
        first, offset = offset, offset + batch.num_rows
        if offset <= fragment.start:
            continue  # before the range: decoded, not kept
        low, high = max(fragment.start, first) - first, min(fragment.stop, offset) - first
        yield batch.slice(low, high - low).to_pandas(split_blocks=True)
        if offset >= fragment.stop:
            break
