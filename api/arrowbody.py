"""Batch bodies in Apache Arrow's IPC stream format (``application/vnd.apache.arrow.stream``):
one column per feature (any subset, any order), one row per record, a null for a missing
value. For a bank's portfolio job (pandas, Spark, Polars all write it) this skips what a JSON
batch costs around the model: no text to parse, no dict per record, types checked once per
column instead of once per value (bench/results/batch-route-arrow.md).

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


def columns(records: ArrowRecords, limit: int) -> tuple[dict[str, np.ndarray], int]:
    """The body's feature columns as float64 (NaN: null) and its number of records."""
    import pyarrow as pa
    import pyarrow.ipc

    try:
        table = pyarrow.ipc.open_stream(records.data).read_all()
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise _invalid(("body",), f"the body is not an Arrow IPC stream ({exc})") from None
    if table.num_rows > limit:
        raise PayloadTooLargeError(f"records: at most {limit} per request")
    out: dict[str, np.ndarray] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in out:
            raise _invalid(("body", name), f"column {name} is given twice")
        kind = column.type
        if pa.types.is_null(kind):
            out[name] = np.full(table.num_rows, np.nan)
            continue
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise InvalidFeatureValueError(
                name, f"expected a numeric column (integers, floats or nulls), got {kind}"
            )
        values = np.asarray(column.to_numpy(), dtype="float64")  # a null -> NaN
        if pa.types.is_floating(kind):
            nan = np.isnan(values)
            if np.count_nonzero(nan) != column.null_count:  # a NaN sent as a value
                nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False))
                refuse_not_finite(name, int(np.flatnonzero(nan & ~nulls)[0]))
        out[name] = values
    return out, table.num_rows


def _invalid(loc: tuple[str, ...], msg: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "arrow_invalid", "loc": loc, "msg": msg, "input": None}]
    )
