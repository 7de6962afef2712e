"""The model card and global importance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from api.deps import ModelDep, protected_router
from api.schemas import GROUP_HELP, ImportanceList, Lang, ModelCard
from scoring.reasons import grouped_importance

router = protected_router("/v1/model", "model")


@router.get("", response_model=ModelCard, summary="Model card: version, metrics, threshold, data")
async def model_card(model: ModelDep) -> dict[str, Any]:
    meta = model.metadata
    return {
        "version": model.version,
        "trained_at": str(meta.get("trained_at", "")),
        "threshold": model.threshold,
        "cost": meta["cost"],
        "metrics": meta["metrics"],
        "data": meta["data"],
        "library_versions": {str(k): str(v) for k, v in meta.get("library_versions", {}).items()},
    }


@router.get("/importance", response_model=ImportanceList, summary="Global importance (mean |SHAP|)")
async def importance(
    model: ModelDep,
    top: Annotated[int | None, Query(ge=1, le=1000)] = None,
    lang: Lang = "en",
    group: Annotated[bool, Query(description=GROUP_HELP)] = False,
) -> dict[str, Any]:
    if group:
        merged = grouped_importance(model, lang)[: top or None]
        return {
            "items": [
                {"feature": i.feature, "label": i.label, "importance": float(i.shap)}
                for i in merged
            ]
        }
    ranked = list(model.importance.items())[: top or None]
    return {
        "items": [
            {"feature": name, "label": model.label(name, lang), "importance": float(value)}
            for name, value in ranked
        ]
    }
