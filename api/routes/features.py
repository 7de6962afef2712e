"""Model features: descriptions, distributions among reference clients, scatter sample."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Query

from api import responses
from api.deps import Ctx, protected_router
from api.errors import NotFoundError
from api.schemas import Distribution, FeatureList, Lang, Message, Scatter, ScatterPoints

router = protected_router("/v1/features", "features")
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "unknown feature or client"}
}


@router.get("", summary="Model features, most important first")
async def list_features(ctx: Ctx, lang: Lang = "en") -> FeatureList:
    model = ctx.model
    return responses.feature_list(model, lang)


@router.get(
    "/scatter",
    responses=NOT_FOUND,
    summary="Two features of a deterministic sample of reference clients",
)
async def scatter(
    ctx: Ctx,
    x: Annotated[str, Query(min_length=1, max_length=200)],
    y: Annotated[str, Query(min_length=1, max_length=200)],
    n: Annotated[int, Query(ge=10, le=5000)] = 500,
) -> Scatter:
    model = ctx.model
    reference = model.reference
    for name in (x, y):
        if name not in reference.columns or name in ("TARGET", "probability"):
            raise NotFoundError("feature with reference values", name)
    size = min(n, len(reference))
    rows = np.sort(np.random.default_rng(0).choice(len(reference), size=size, replace=False))
    sample = reference.iloc[rows]
    return Scatter(
        x=x,
        y=y,
        points=ScatterPoints(
            x=responses.floats(sample[x].to_numpy(dtype=np.float64)),
            y=responses.floats(sample[y].to_numpy(dtype=np.float64)),
            target=sample["TARGET"].to_numpy(dtype=np.int64).tolist(),
            probability=sample["probability"].to_numpy(dtype=np.float64).tolist(),
        ),
    )


@router.get(
    "/{name}/distribution",
    responses=NOT_FOUND,
    summary="Histogram of a feature, class 0 against class 1",
)
async def distribution(
    name: str,
    ctx: Ctx,
    by: Literal["target", "prediction"] = "target",
    bins: Annotated[int, Query(ge=2, le=100)] = 20,
    client_id: int | None = None,
    lang: Lang = "en",
) -> Distribution:
    model, store = ctx.model, ctx.store
    if name not in model.feature_names:
        raise NotFoundError("feature", name)
    client_value: float | None = None
    if client_id is not None:
        value = float(store.feature_row(client_id)[model.feature_names.index(name)])
        client_value = None if math.isnan(value) else value
    dist = model.distribution(name, by=by, bins=bins)
    return responses.distribution(name, model.label(name, lang), by, dist, client_value, lang)
