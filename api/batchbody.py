"""The records of a batch body, checked in one pass instead of one pydantic model each.

``BatchRequest.records`` is documented as ``PredictRequest`` items but not validated by pydantic
(``SkipValidation``): for 1,000 full records that validation cost about as much as scoring them.
Here only the shape is checked (a list of ``{"features": {...}}`` objects); the values are the
core's business (``ScoringModel.matrix`` refuses, in one vectorised pass, what is not a finite
number or null). Whenever the fast path refuses something, the body is validated again by the
schema, so a bad body gets exactly the 422 it always got: pydantic's errors, naming the record's
index and the field (``["body", "records", 3, "features", "AMT_CREDIT"]``); only what the schema
accepts and the core refuses (an unknown or implausible feature) keeps the core's message."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from api.schemas import PredictRequest
from scoring.errors import ScoringError

T = TypeVar("T")
_RECORDS: TypeAdapter[list[PredictRequest]] = TypeAdapter(list[PredictRequest])


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


def checked(
    records: object, build: Callable[[list[Mapping[str, Any]]], T]
) -> tuple[list[Mapping[str, Any]], T]:
    """The ``features`` of every record and ``build(features)`` (e.g. the model's rows), where a
    refusal, of the shape here or of a value by ``build``, is first checked against the
    schema."""
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
