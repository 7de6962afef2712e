"""The model card and global importance."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api import responses
from api.deps import ModelDep, protected_router
from api.schemas import GROUP_HELP, ImportanceList, Lang, ModelCard

router = protected_router("/v1/model", "model")


@router.get("", summary="Model card: version, metrics, threshold, data")
async def model_card(model: ModelDep) -> ModelCard:
    return responses.model_card(model)


@router.get("/importance", summary="Global importance (mean |SHAP|)")
async def importance(
    model: ModelDep,
    top: Annotated[int | None, Query(ge=1, le=1000)] = None,
    lang: Lang = "en",
    group: Annotated[bool, Query(description=GROUP_HELP)] = False,
) -> ImportanceList:
    return responses.importance(model, top, lang, group)
