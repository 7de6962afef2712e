"""Score and explain records sent in the request body."""

from __future__ import annotations

import numpy as np
from fastapi import Depends, Response
from pydantic import TypeAdapter

from api import arrowbody, batchbody, rawbodies, responses
from api.arrowbody import ARROW_STREAM, ArrowRecords, accepts_arrow
from api.audit import JSON_HASH_KIND, input_hash
from api.costly import costly
from api.deps import Ctx, protected_router
from api.errors import PayloadTooLargeError
from api.jsonbody import typed_json
from api.schemas import (
    BatchPrediction,
    BatchRequest,
    ExplainRequest,
    Explanation,
    Invalid,
    Message,
    Prediction,
    PredictRequest,
)
from scoring.fingerprint import ROW_HASH_KIND
from scoring.model import Explanation as CoreExplanation

EXPLANATION_JSON = TypeAdapter(Explanation)

router = protected_router(
    "/v1",
    "predict",
    {
        413: {"model": Message, "description": "a body over API_MAX_BODY_BYTES"},
        422: {
            "model": Invalid,
            "description": "a body that is not UTF-8 JSON or does not match the schema, unknown "
            "feature names, a value that is not a finite number, or a value outside the field's "
            "valid range (docs/plausibility.md), naming the field and the range",
        },
        503: {"model": Message, "description": "the audit log is unavailable"},
    },
)


@router.post("/predict", response_model=Prediction, summary="Score one model-ready record")
async def predict(body: PredictRequest, ctx: Ctx) -> Response:
    model, audit = ctx.model, ctx.auditor
    x, missing = model.vector(body.features)
    score = model.score(x)
    await audit.decision(score, input_hash=model.row_hashes(x)[0], hash_kind=ROW_HASH_KIND)
    ctx.services.served(x)
    return rawbodies.prediction(score, missing)


@router.post(
    "/predict/batch",
    response_model=BatchPrediction,
    responses={
        413: {
            "model": Message,
            "description": "more records than API_BATCH_MAX, or a body over "
            "API_MAX_BATCH_BODY_BYTES",
        }
    },
    summary="Score up to API_BATCH_MAX model-ready records",
    dependencies=[Depends(costly("batch"))],
    openapi_extra={
        "requestBody": {
            "description": "JSON records, or an Arrow IPC stream (`Content-Type: "
            f"{ARROW_STREAM}`): one numeric column per feature, one row per record, null for "
            "a missing value (docs/api.md#batches-in-arrow)",
            "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
@accepts_arrow
@typed_json(batchbody.typed_body)
async def predict_batch(body: BatchRequest, ctx: Ctx) -> Response:
    # one matrix for the whole batch (checked in one vectorised pass), one model call, the
    # decisions in one pass, the audit rows committed together, the body written by orjson
    model, services, audit = ctx.model, ctx.services, ctx.auditor
    limit = services.settings.api_batch_max
    records: object = body.records  # not validated yet (api/batchbody.py, api/arrowbody.py)
    if isinstance(records, ArrowRecords):
        rows = model.column_rows(*arrowbody.columns(records, limit, len(model.feature_names)))
    else:
        if isinstance(records, list | batchbody.TypedRecords) and len(records) > limit:
            raise PayloadTooLargeError(f"records: at most {limit} per request")
        rows = batchbody.checked(records, model.rows)[1]
    some = len(rows.matrix) > 0
    if some:
        probabilities = await services.costly.run(model.predict_proba, rows.matrix)
    else:
        probabilities = np.empty(0)
    scores = model.decide_rows(probabilities, rows.matrix)
    if some:
        await audit.decisions(audit.batch_entries(scores, model.row_hashes(rows.matrix)))
        services.served(rows.matrix)
    return rawbodies.batch_prediction(scores, rows.missing())


@router.post(
    "/explain",
    response_model=Explanation,
    responses={404: {"model": Message, "description": "unknown client"}},
    summary="Explain a record, or a stored client with what-if changes",
)
async def explain(body: ExplainRequest, ctx: Ctx) -> Response:
    model, store, audit, services = ctx.model, ctx.store, ctx.auditor, ctx.services
    if body.client_id is not None:
        client_id: int | None = body.client_id
        raw = store.raw_frame(body.client_id, body.changes)

        def compute() -> CoreExplanation:
            # the client's own feature path: their auxiliary history is kept under the changes
            return services.explain_now(store.features_of(raw).to_numpy(dtype=np.float64)[0])

        fingerprint = input_hash({"client_id": body.client_id, "changes": body.changes or {}})
        kind = JSON_HASH_KIND
    else:
        client_id = None
        x, _ = model.vector(body.features or {})

        def compute() -> CoreExplanation:
            return services.explain_now(x)

        fingerprint, kind = model.row_hashes(x)[0], ROW_HASH_KIND
    # the explain class's slot, held in the handler (as a dependency it cost a generator and an
    # exit stack per request): one model call, in a costly thread
    with services.gates["explain"].slot():
        expl = await services.costly.run(compute)
    committed = audit.begin_decision(
        expl, client_id=client_id, input_hash=fingerprint, hash_kind=kind
    )
    try:  # the body is built while the audit writer commits the row
        answer = responses.explanation(expl, model, client_id, body.top, body.lang, body.group)
        content = EXPLANATION_JSON.dump_json(answer, by_alias=True)
    except BaseException:
        committed.close()
        raise
    await committed
    return Response(content, media_type="application/json")
