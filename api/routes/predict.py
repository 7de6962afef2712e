"""Score and explain records sent in the request body."""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from api.audit import input_hash
from api.deps import AuditDep, ModelDep, ServicesDep, StoreDep, protected_router
from api.errors import PayloadTooLargeError
from api.explaining import decision, explanation_body, score_body
from api.schemas import (
    BatchPrediction,
    BatchRequest,
    ExplainRequest,
    Explanation,
    Message,
    Prediction,
    PredictRequest,
)

router = protected_router(
    "/v1",
    "predict",
    {
        422: {"description": "unknown feature names, or a value that is not a finite number"},
        503: {"model": Message, "description": "the audit log is unavailable"},
    },
)


@router.post("/predict", response_model=Prediction, summary="Score one model-ready record")
async def predict(body: PredictRequest, model: ModelDep, audit: AuditDep) -> dict[str, Any]:
    x, missing = model.vector(body.features)
    probability = float(model.score(x).probability)
    result = score_body(model, probability)
    await audit.record(
        audit.entry(
            model_version=model.version,
            probability=probability,
            decision=result["decision"],
            input_hash=input_hash(body.features),
        )
    )
    return {**result, "missing_features": missing}


@router.post(
    "/predict/batch",
    response_model=BatchPrediction,
    responses={413: {"model": Message, "description": "more records than API_BATCH_MAX"}},
    summary="Score up to API_BATCH_MAX model-ready records",
)
async def predict_batch(
    body: BatchRequest, model: ModelDep, services: ServicesDep, audit: AuditDep
) -> dict[str, Any]:
    limit = services.settings.api_batch_max
    if len(body.records) > limit:
        raise PayloadTooLargeError(f"records: at most {limit} per request")
    if not body.records:
        return {"model_version": model.version, "items": []}
    vectors = [model.vector(record.features) for record in body.records]
    matrix = np.vstack([x for x, _ in vectors])
    probabilities = await run_in_threadpool(model.predict_proba, matrix)
    items = []
    entries = []
    for record, (_, missing), p in zip(body.records, vectors, probabilities, strict=True):
        probability = float(p)
        items.append({**score_body(model, probability), "missing_features": missing})
        entries.append(
            audit.entry(
                model_version=model.version,
                probability=probability,
                decision=decision(probability, model.threshold),
                input_hash=input_hash(record.features),
            )
        )
    await audit.record(*entries)
    return {"model_version": model.version, "items": items}


@router.post(
    "/explain",
    response_model=Explanation,
    responses={404: {"model": Message, "description": "unknown client"}},
    summary="Explain a record, or a stored client with what-if changes",
)
async def explain(
    body: ExplainRequest, model: ModelDep, store: StoreDep, audit: AuditDep
) -> dict[str, Any]:
    if body.client_id is not None:
        client_id: int | None = body.client_id
        raw = store.raw_frame(body.client_id, body.changes)

        def compute() -> Any:
            features = model.transform(raw)
            return model.explain(features.to_numpy(dtype=np.float64)[0])

        fingerprint = input_hash({"client_id": body.client_id, "changes": body.changes or {}})
    else:
        client_id = None
        x, _ = model.vector(body.features or {})

        def compute() -> Any:
            return model.explain(x)

        fingerprint = input_hash(body.features)
    expl = await run_in_threadpool(compute)
    result = explanation_body(expl, model, client_id, body.top, body.lang, body.group)
    await audit.record(
        audit.entry(
            model_version=model.version,
            probability=result["probability"],
            decision=result["decision"],
            client_id=client_id,
            input_hash=fingerprint,
        )
    )
    return result
