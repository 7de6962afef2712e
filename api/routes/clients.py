"""The new clients: list, raw record, features, score, explanation, neighbours, what would change
the decision."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from starlette.concurrency import run_in_threadpool

from api.audit import input_hash
from api.deps import AuditDep, ModelDep, NeighborsDep, StoreDep, protected_router
from api.explaining import cached_explanation, explanation_body, score_body
from api.schemas import (
    GROUP_HELP,
    ClientFeatures,
    ClientList,
    ClientRecord,
    ClientScore,
    Counterfactual,
    Explanation,
    Lang,
    Message,
    Neighbors,
)
from scoring import counterfactual as cf
from scoring.schema import ACTIONABLE_COLUMNS

router = protected_router("/v1/clients", "clients")
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "unknown client"}
}
AUDITED: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    503: {"model": Message, "description": "the audit log is unavailable"},
}


@router.get("", response_model=ClientList, summary="Ids of the new clients, paginated")
async def list_clients(
    store: StoreDep,
    search: Annotated[str, Query(max_length=20, pattern=r"^[0-9]*$")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    total, items = store.search(search, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/{client_id}", response_model=ClientRecord, responses=NOT_FOUND, summary="Raw record")
async def client_record(client_id: int, store: StoreDep, lang: Lang = "en") -> dict[str, Any]:
    return {"client_id": client_id, "fields": store.raw_record(client_id, lang)}


@router.get(
    "/{client_id}/features",
    response_model=ClientFeatures,
    responses=NOT_FOUND,
    summary="The model-ready record, exactly what the model sees",
)
async def client_features(client_id: int, store: StoreDep, model: ModelDep) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "model_version": model.version,
        "features": store.feature_dict(client_id),
    }


@router.get(
    "/{client_id}/score", response_model=ClientScore, responses=AUDITED, summary="Score a client"
)
async def client_score(
    client_id: int, store: StoreDep, model: ModelDep, audit: AuditDep
) -> dict[str, Any]:
    row = store.cached_row(client_id)
    if row is not None and store.batch is not None:
        probability = float(store.batch.probability[row])
    else:
        probability = float(model.score(store.feature_row(client_id)).probability)
    body = score_body(model, probability)
    await audit.record(
        audit.entry(
            model_version=model.version,
            probability=probability,
            decision=body["decision"],
            client_id=client_id,
        )
    )
    return {**body, "client_id": client_id}


@router.get(
    "/{client_id}/explanation",
    response_model=Explanation,
    responses=AUDITED,
    summary="Local SHAP explanation of a client's score",
)
async def client_explanation(
    client_id: int,
    store: StoreDep,
    model: ModelDep,
    audit: AuditDep,
    top: Annotated[int, Query(ge=1, le=50)] = 10,
    lang: Lang = "en",
    group: Annotated[bool, Query(description=GROUP_HELP)] = False,
) -> dict[str, Any]:
    expl = cached_explanation(store, model, client_id)
    if expl is None:  # cache still warming: TreeSHAP on the fly, off the event loop
        expl = await run_in_threadpool(model.explain, store.feature_row(client_id))
    body = explanation_body(expl, model, client_id, top, lang, group)
    await audit.record(
        audit.entry(
            model_version=model.version,
            probability=body["probability"],
            decision=body["decision"],
            client_id=client_id,
        )
    )
    return body


@router.get(
    "/{client_id}/neighbors",
    response_model=Neighbors,
    responses=NOT_FOUND,
    summary="The most similar reference clients and their outcome",
)
async def client_neighbors(
    client_id: int,
    store: StoreDep,
    index: NeighborsDep,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    found = await run_in_threadpool(index.query, store.feature_dict(client_id), k)
    return {
        "client_id": client_id,
        "k": k,
        "default_rate": found.default_rate,
        "features": index.features,
        "items": [
            {"client_id": int(i), "distance": float(d), "target": int(t), "probability": float(p)}
            for i, d, t, p in zip(
                found.ids, found.distances, found.target, found.probability, strict=True
            )
        ],
    }


@router.get(
    "/{client_id}/counterfactual",
    response_model=Counterfactual,
    responses=AUDITED,
    summary="The smallest change of actionable items that would turn a refusal into a grant",
)
async def client_counterfactual(
    client_id: int, store: StoreDep, model: ModelDep, audit: AuditDep, lang: Lang = "en"
) -> dict[str, Any]:
    raw = store.raw_frame(client_id)
    result = await run_in_threadpool(cf.find, model, raw, ACTIONABLE_COLUMNS)
    await audit.record(
        audit.entry(
            model_version=model.version,
            probability=result.probability_before,
            decision=result.decision_before,
            client_id=client_id,
            input_hash=input_hash({"counterfactual": client_id}),
        )
    )
    return {
        "client_id": client_id,
        "found": result.found,
        "decision_before": result.decision_before,
        "decision_after": result.decision_after,
        "probability_before": result.probability_before,
        "probability_after": result.probability_after,
        "changes": [
            {
                "column": c.column,
                "label": cf.label(c.column, lang),
                "before": c.before,
                "after": c.after,
                "derived": c.derived,
            }
            for c in result.changes
        ],
        "message": cf.message(result, lang),
    }
