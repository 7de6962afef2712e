"""The model card and global importance."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api import responses
from api.deps import Ctx, protected_router
from api.schemas import GROUP_HELP, Fairness, ImportanceList, Lang, Message, ModelCard

router = protected_router("/v1/model", "model")


@router.get("", summary="Model card: version, metrics, threshold, data")
async def model_card(ctx: Ctx) -> ModelCard:
    model = ctx.model
    return responses.model_card(model)


@router.get("/importance", summary="Global importance (mean |SHAP|)")
async def importance(
    ctx: Ctx,
    top: Annotated[int | None, Query(ge=1, le=1000)] = None,
    lang: Lang = "en",
    group: Annotated[bool, Query(description=GROUP_HELP)] = False,
) -> ImportanceList:
    model = ctx.model
    return responses.importance(model, top, lang, group)


@router.get(
    "/fairness",
    summary="Fairness by gender and age band, out of fold, at the threshold",
    responses={404: {"model": Message, "description": "the bundle has no model card"}},
)
async def fairness(ctx: Ctx, lang: Lang = "en") -> Fairness:
    """Per group: approval, default, false-negative and false-positive rates; across groups
    the demographic-parity and equalised-odds differences, and a plain-language reading."""
    return responses.fairness(ctx.model, lang)
