"""The new clients: list, raw record, features, score, explanation, neighbours, what would change
the decision."""

from __future__ import annotations

import inspect
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Query, Request, Response
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from api import responses
from api.audit import input_hash
from api.costly import costly
from api.deps import Context, Ctx, admitted, fast_path, known_key, protected_router
from api.errors import NotReadyError
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
    RawField,
)
from scoring import counterfactual as cf
from scoring.model import Explanation as CoreExplanation
from scoring.schema import ACTIONABLE_COLUMNS

router = protected_router("/v1/clients", "clients")
EXPLANATION_JSON = TypeAdapter(Explanation)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "unknown client"}
}
AUDITED: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    503: {"model": Message, "description": "the audit log is unavailable"},
}


@router.get("", summary="Ids of the new clients, paginated")
async def list_clients(
    ctx: Ctx,
    search: Annotated[str, Query(max_length=20, pattern=r"^[0-9]*$")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ClientList:
    store = ctx.store
    total, items = store.search(search, limit, offset)
    return ClientList(total=total, limit=limit, offset=offset, items=items)


@router.get("/{client_id}", responses=NOT_FOUND, summary="Raw record")
async def client_record(client_id: int, ctx: Ctx, lang: Lang = "en") -> ClientRecord:
    store = ctx.store
    fields = [RawField.model_validate(f) for f in store.raw_record(client_id, lang)]
    return ClientRecord(client_id=client_id, fields=fields)


@router.get(
    "/{client_id}/features",
    responses=NOT_FOUND,
    summary="The model-ready record, exactly what the model sees",
)
async def client_features(client_id: int, ctx: Ctx) -> ClientFeatures:
    store, model = ctx.store, ctx.model
    return ClientFeatures(
        client_id=client_id, model_version=model.version, features=store.feature_dict(client_id)
    )


@router.get("/{client_id}/score", responses=AUDITED, summary="Score a client")
async def client_score(client_id: int, ctx: Ctx) -> ClientScore:
    store, model, audit = ctx.store, ctx.model, ctx.auditor
    row = store.cached_row(client_id)
    if row is not None and store.batch is not None:
        score = model.score_of(float(store.batch.probability[row]), store.feature_row(client_id))
    else:
        score = model.score(store.feature_row(client_id))
    await audit.decision(score, client_id=client_id)
    ctx.services.served_client(client_id)
    return responses.client_score(score, client_id)


@router.get(
    "/{client_id}/explanation",
    response_model=Explanation,
    responses=AUDITED,
    summary="Local SHAP explanation of a client's score",
)
async def client_explanation(
    client_id: int,
    ctx: Ctx,
    top: Annotated[int, Query(ge=1, le=50)] = 10,
    lang: Lang = "en",
    group: Annotated[bool, Query(description=GROUP_HELP)] = False,
) -> Explanation | Response:
    store, model, audit = ctx.store, ctx.model, ctx.auditor
    if store.cached_row(client_id) is None:
        # cache still warming: TreeSHAP on the fly, off the event loop, capped
        with ctx.services.gates["explain"].slot():
            expl = await ctx.services.costly.run(
                ctx.services.explain_now, store.feature_row(client_id)
            )
        await audit.decision(expl, client_id=client_id)
        ctx.services.served_client(client_id)
        return responses.explanation(expl, model, client_id, top, lang, group)
    return await cached_explanation(ctx, client_id, top, lang, group)


async def cached_explanation(
    ctx: Context, client_id: int, top: int, lang: Lang, group: bool
) -> Response:
    """A stored client's explanation from the batch cache: the decision and the response's
    JSON built once per (model, client, top, lang, group), the decision audited each time."""
    store, model = ctx.store, ctx.model

    def build() -> tuple[CoreExplanation, bytes]:
        cached = store.cached_explanation(model, client_id)
        if cached is None:  # the batch cache was replaced in between
            raise NotReadyError("the batch cache is being replaced")
        body = responses.explanation(cached, model, client_id, top, lang, group)
        return cached, EXPLANATION_JSON.dump_json(body, by_alias=True)

    expl, content = store.cached_body((model.version, client_id, top, lang, group), build)
    await ctx.auditor.decision(expl, client_id=client_id)
    ctx.services.served_client(client_id)
    return Response(content, media_type="application/json")


# The query values the fast path reads itself (as FastAPI would); any other goes FastAPI's way.
_FAST_QUERY: dict[str, dict[str, Any]] = {
    "top": {str(n): n for n in range(1, 51)},
    "lang": {"en": "en", "fr": "fr"},
    "group": {"true": True, "false": False, "1": True, "0": False},
}


# The route's own defaults, so that the two readings cannot drift apart.
_FAST_DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(client_explanation).parameters.items()
    if name in _FAST_QUERY
}


@fast_path(router, client_explanation)
async def client_explanation_fast(request: Request) -> Response | None:
    """The cached explanation of a stored client without FastAPI's solving of the parameters
    (a third of this route's CPU): only for a plain client id, a valid key, a client whose
    explanation is cached, and the usual spellings of ``top``, ``lang`` and ``group``. Anything
    else, and every error that could come before the rate limiter counts the request, is left
    to the route itself (None); after that, the errors are the route's own (429, 503)."""
    raw_id = request.scope["path_params"].get("client_id", "")
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18):
        return None
    options = dict(_FAST_DEFAULTS)
    query = request.scope.get("query_string")
    if query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            accepted = _FAST_QUERY.get(name)
            if accepted is None or value not in accepted:
                return None
            options[name] = accepted[value]  # the last of a repeated name, as FastAPI
    known = known_key(request)
    if known is None:
        return None
    services, name = known
    client_id = int(raw_id)
    if client_id not in services.store.row_of or services.store.cached_row(client_id) is None:
        return None
    ctx = await admitted(request, services, name)
    return await cached_explanation(
        ctx, client_id, options["top"], options["lang"], options["group"]
    )


@router.get(
    "/{client_id}/neighbors",
    responses=NOT_FOUND,
    summary="The most similar reference clients and their outcome",
)
async def client_neighbors(
    client_id: int,
    ctx: Ctx,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Neighbors:
    store, index = ctx.store, ctx.neighbors
    found = await run_in_threadpool(index.query, store.feature_dict(client_id), k)
    return responses.neighbors(client_id, k, index, found)


@router.get(
    "/{client_id}/counterfactual",
    responses=AUDITED,
    summary="The smallest change of actionable items that would turn a refusal into a grant",
    dependencies=[Depends(costly("counterfactual"))],
)
async def client_counterfactual(client_id: int, ctx: Ctx, lang: Lang = "en") -> Counterfactual:
    store, model, audit = ctx.store, ctx.model, ctx.auditor
    raw = store.raw_frame(client_id)
    result = await ctx.services.costly.run(
        cf.find, model, store.features_of, raw, ACTIONABLE_COLUMNS
    )
    await audit.decision(
        model.score_of(result.probability_before, store.feature_row(client_id)),
        client_id=client_id,
        input_hash=input_hash({"counterfactual": client_id}),
    )
    return responses.counterfactual(result, client_id, lang)
