"""The records of a batch body, checked in one pass instead of one pydantic model each.

``BatchRequest.records`` is documented as ``PredictRequest`` items but not validated by pydantic
(``SkipValidation``): for 1,000 full records that validation cost about as much as scoring them.
Here only the shape is checked (a list of ``{"features": {...}}`` objects); the values are the
core's business (``ScoringModel.matrix`` refuses, in one vectorised pass, what is not a finite
number or null). Whenever the fast path refuses something, the body is validated again by the
schema, so a bad body gets exactly the 422 it always got: pydantic's errors, naming the record's
index and the field (``["body", "records", 3, "features", "AMT_CREDIT"]``); only what the schema
accepts and the core refuses (an unknown or implausible feature) keeps the core's message.

A JSON body is first decoded by msgspec against the schema's shape (``typed_body``): every
record ``{"features": {name: number | null}}`` and nothing else, every number finite (an integer
as a float). What it accepts the schema accepts, and its values need no type or finiteness scan
(``TypedRecords``, ``ScoringModel.rows(typed=True)``): 1.9 + 1.6 ms of a 1,000-record batch, and
its decode is a little faster than orjson's. Anything else it refuses, and the body is parsed
and checked as above, so a bad body gets the same 422 as always."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from api.schemas import PredictRequest
from scoring.errors import ScoringError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
_RECORDS: TypeAdapter[list[PredictRequest]] = TypeAdapter(list[PredictRequest])


class _TypedRecord(msgspec.Struct, forbid_unknown_fields=True):
    features: dict[str, float | None]


class _TypedBatch(msgspec.Struct, forbid_unknown_fields=True):
    records: list[_TypedRecord]


_TYPED = msgspec.json.Decoder(_TypedBatch)


@dataclass(frozen=True, slots=True)
class TypedRecords:
    """The records of a batch body that ``typed_body`` decoded: each one's features, every
    value a finite float or None, in the body's order."""

    features: list[dict[str, float | None]]

    def __len__(self) -> int:
        return len(self.features)


def typed_body(body: bytes) -> dict[str, TypedRecords] | None:
    """``{"records": TypedRecords}`` of a JSON batch body of exactly the schema's shape with
    finite numbers or nulls for values; None for any other body (then parsed as usual)."""
    try:
        batch = _TYPED.decode(body)
    except msgspec.DecodeError:  # malformed, another shape, a value of another type
        return None
    return {"records": TypedRecords([record.features for record in batch.records])}


def feature_records(records: object) -> list[Mapping[str, Any]] | None:
    """The ``features`` mapping of each record, or None when the shape is not a list of
    ``{"features": {name: value}}`` objects (the schema then says what is wrong)."""
    if not isinstance(records, list):
        return None
    out: list[Mapping[str, Any]] = []
    for record in records:
        if type(record) is not dict or len(record) != 1:
            return None
        features = record.get("features")
        if type(features) is not dict:
            return None
        out.append(features)
    return out


def schema_errors(records: object) -> None:
    """Raise the 422 the schema gives these records, if it refuses them."""
    try:
        _RECORDS.validate_python(records)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", "records", *err["loc"])} for err in exc.errors()]
        ) from None


class Build(Protocol[T_co]):
    def __call__(self, records: Sequence[Mapping[str, Any]], *, typed: bool = ...) -> T_co: ...


def checked(records: object, build: Build[T]) -> tuple[Sequence[Mapping[str, Any]], T]:
    """The ``features`` of every record and ``build(features)`` (e.g. the model's rows), where a
    refusal, of the shape here or of a value by ``build``, is first checked against the
    schema; records that ``typed_body`` decoded are built ``typed`` (the schema accepts them:
    a refusal is the core's)."""
    if isinstance(records, TypedRecords):  # the schema's shape and types: only the core checks
        return records.features, build(records.features, typed=True)
    features = feature_records(records)
    if features is None:
        schema_errors(records)
        raise RequestValidationError([_shape_error()])  # pragma: no cover - schema refuses first
    try:
        return features, build(features)
    except (ScoringError, OverflowError):
        schema_errors(records)  # the schema's 422 first, as when pydantic validated the body
        raise


def _shape_error() -> dict[str, Any]:
    return {
        "loc": ("body", "records"),
        "msg": 'records must be a list of {"features": {...}} objects',
        "type": "list_type",
    }
