"""Batch bodies in Apache Arrow's IPC stream format (``application/vnd.apache.arrow.stream``):
one column per feature (any subset, any order), one row per record, a null for a missing
value. For a bank's portfolio job (pandas, Spark, Polars all write it) this skips what a JSON
batch costs around the model: no text to parse, no dict per record, types checked once per
column instead of once per value (bench/results/batch-route-large.md).

The route that takes such a body marks its endpoint (``accepts_arrow``); ``api/jsonbody.py``
then hands the schema ``{"records": ArrowRecords(body)}`` (``BatchRequest.records`` is not
validated by pydantic), and the endpoint decodes it here. A body that is not an Arrow stream,
or names a column twice, is a 422 like a malformed JSON body; a column that is not numeric,
a NaN or an infinity sent as a value, is the core's 422 naming the feature (and the record)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from fastapi.exceptions import RequestValidationError

from api.errors import PayloadTooLargeError
from scoring.errors import InvalidFeatureValueError
from scoring.model import refuse_not_finite

ARROW_STREAM = "application/vnd.apache.arrow.stream"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ArrowRecords:
    """The undecoded Arrow body of a batch, as the schema hands it to the endpoint."""

    data: bytes


def accepts_arrow(endpoint: F) -> F:
    """Mark an endpoint whose ``records`` may come as an Arrow stream."""
    endpoint.accepts_arrow = True  # type: ignore[attr-defined]
    return endpoint


def is_arrow(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == ARROW_STREAM


def columns(
    records: ArrowRecords, limit: int, max_columns: int
) -> tuple[dict[str, np.ndarray], int]:
    """The body's feature columns as float64 (NaN: null) and its number of records.

    The schema is checked before any record is read (at most ``max_columns`` columns, each
    numeric or null, none twice), then the record batches one at a time, up to ``limit``
    records: a compressed stream cannot make the API decode more than ``limit`` rows of
    numbers, whatever it would decompress to."""
    import pyarrow as pa
    import pyarrow.ipc

    try:  # a malformed stream may show at its start or in any later batch
        reader = pyarrow.ipc.open_stream(records.data)
        schema = reader.schema
        _check_schema(schema, max_columns)
        batches, n = [], 0
        for batch in reader:
            n += batch.num_rows
            if n > limit:
                raise PayloadTooLargeError(f"records: at most {limit} per request")
            batches.append(batch)
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise _invalid(("body",), f"the body is not an Arrow IPC stream ({exc})") from None
    table = pa.Table.from_batches(batches, schema=schema)
    out: dict[str, np.ndarray] = {}
    for field, column in zip(schema, table.columns, strict=True):
        if pa.types.is_null(field.type):
            out[field.name] = np.full(n, np.nan)
            continue
        values = np.asarray(column.to_numpy(), dtype="float64")  # a null -> NaN
        if pa.types.is_floating(field.type):
            nan = np.isnan(values)
            if np.count_nonzero(nan) != column.null_count:  # a NaN sent as a value
                nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False))
                refuse_not_finite(field.name, int(np.flatnonzero(nan & ~nulls)[0]))
        out[field.name] = values
    return out, n


def _check_schema(schema: Any, max_columns: int) -> None:
    """Refuse, before any record is read, what no batch could be: too many columns, one given
    twice, one that is not numbers."""
    import pyarrow as pa

    if len(schema) > max_columns:
        raise _invalid(("body",), f"at most {max_columns} columns (one per feature)")
    seen: set[str] = set()
    for field in schema:
        if field.name in seen:
            raise _invalid(("body", field.name), f"column {field.name} is given twice")
        seen.add(field.name)
        kind = field.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)):
            raise InvalidFeatureValueError(
                field.name, f"expected a numeric column (integers, floats or nulls), got {kind}"
            )


def _invalid(loc: tuple[str, ...], msg: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "arrow_invalid", "loc": loc, "msg": msg, "input": None}]
    )
