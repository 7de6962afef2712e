"""Model features: descriptions, distributions among reference clients, scatter sample."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Query

from api.deps import ModelDep, StoreDep, protected_router
from api.errors import NotFoundError
from api.schemas import Distribution, FeatureList, Lang, Message, Scatter
from scoring.wording import feature_description, text

router = protected_router("/v1/features", "features")
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "unknown feature or client"}
}


@router.get("", response_model=FeatureList, summary="Model features, most important first")
async def list_features(model: ModelDep, lang: Lang = "en") -> dict[str, Any]:
    described = {f["name"]: f for f in model.metadata.get("features", [])}
    items = []
    for name in model.feature_names:
        info = described.get(name, {})
        items.append(
            {
                "name": name,
                "label": model.label(name, lang),
                "description": feature_description(name, list(info.get("sources", [])), lang),
                "dtype": info.get("dtype", "float"),
                "sources": list(info.get("sources", [])),
                "importance": float(model.importance.get(name, 0.0)),
                "actionable": bool(info.get("actionable", False)),
            }
        )
    items.sort(key=lambda item: (-item["importance"], item["name"]))
    return {"items": items}


@router.get(
    "/scatter",
    response_model=Scatter,
    responses=NOT_FOUND,
    summary="Two features of a deterministic sample of reference clients",
)
async def scatter(
    model: ModelDep,
    x: Annotated[str, Query(min_length=1, max_length=200)],
    y: Annotated[str, Query(min_length=1, max_length=200)],
    n: Annotated[int, Query(ge=10, le=5000)] = 500,
) -> dict[str, Any]:
    reference = model.reference
    for name in (x, y):
        if name not in reference.columns or name in ("TARGET", "probability"):
            raise NotFoundError("feature with reference values", name)
    size = min(n, len(reference))
    rows = np.sort(np.random.default_rng(0).choice(len(reference), size=size, replace=False))
    sample = reference.iloc[rows]
    return {
        "x": x,
        "y": y,
        "points": {
            "x": _floats(sample[x].to_numpy(dtype=np.float64)),
            "y": _floats(sample[y].to_numpy(dtype=np.float64)),
            "target": [int(t) for t in sample["TARGET"].to_numpy()],
            "probability": [float(p) for p in sample["probability"].to_numpy()],
        },
    }


@router.get(
    "/{name}/distribution",
    response_model=Distribution,
    responses=NOT_FOUND,
    summary="Histogram of a feature, class 0 against class 1",
)
async def distribution(
    name: str,
    model: ModelDep,
    store: StoreDep,
    by: Literal["target", "prediction"] = "target",
    bins: Annotated[int, Query(ge=2, le=100)] = 20,
    client_id: int | None = None,
    lang: Lang = "en",
) -> dict[str, Any]:
    if name not in model.feature_names:
        raise NotFoundError("feature", name)
    client_value: float | None = None
    if client_id is not None:
        value = float(store.feature_row(client_id)[model.feature_names.index(name)])
        client_value = None if math.isnan(value) else value
    dist = model.distribution(name, by=by, bins=bins)
    return {
        "feature": name,
        "label": model.label(name, lang),
        "by": by,
        "bin_edges": [float(e) for e in dist.bin_edges],
        "counts_0": [int(c) for c in dist.counts_0],
        "counts_1": [int(c) for c in dist.counts_1],
        "labels": [text(f"class.{by}.0", lang), text(f"class.{by}.1", lang)],
        "missing_0": int(dist.missing_0),
        "missing_1": int(dist.missing_1),
        "client_value": client_value,
    }


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]
