"""Bodies of the per-record routes written straight to JSON bytes (orjson), without one pydantic
model per item: a 1,000-record batch answer is 1,000 plain dicts and one serialiser call instead
of 1,000 validated models. The shapes are the schemas' (``api.schemas.Prediction``,
``BatchPrediction``: the same fields in the same order; the routes still declare those models,
so the OpenAPI document is unchanged), and what the schema would refuse is refused here too: a
probability outside [0, 1] is an error, never a body."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson
from fastapi import Response

from api.responses import score_fields
from scoring.model import RowScores, Score


class JSONBytes(Response):
    """A JSON body that is already bytes."""

    media_type = "application/json"


def _probabilities_valid(probabilities: Sequence[float]) -> None:
    values = np.asarray(probabilities, dtype="float64")
    if not bool(np.all((values >= 0.0) & (values <= 1.0))):  # NaN fails both
        raise ValueError("a probability outside [0, 1]: the model's output is not a probability")


def prediction(score: Score, missing: list[str]) -> JSONBytes:
    """The body of ``POST /v1/predict`` (``schemas.Prediction``)."""
    _probabilities_valid([score.probability])
    return JSONBytes(orjson.dumps({**score_fields(score), "missing_features": missing}))


def batch_prediction(scores: RowScores, missing: Sequence[list[str]]) -> JSONBytes:
    """The body of ``POST /v1/predict/batch`` (``schemas.BatchPrediction``)."""
    _probabilities_valid(scores.probability)
    threshold, version = scores.threshold, scores.model_version
    items = [
        {
            "probability": p,
            "decision": d,
            "decision_reason": r,
            "missing_key_features": keys,
            "threshold": threshold,
            "model_version": version,
            "missing_features": names,
        }
        for p, d, r, keys, names in zip(
            scores.probability,
            scores.decision,
            scores.reason,
            scores.missing_key,
            missing,
            strict=True,
        )
    ]
    return JSONBytes(orjson.dumps({"model_version": version, "items": items}))
