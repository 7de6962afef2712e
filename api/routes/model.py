"""The model card, global importance, fairness and data drift."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.concurrency import run_in_threadpool

from api import responses
from api.deps import Ctx, protected_router
from api.schemas import (
    GROUP_HELP,
    DriftSummary,
    Fairness,
    ImportanceList,
    Lang,
    Message,
    ModelCard,
)
from api.services import window_settings

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


@router.get(
    "/drift",
    summary="Data drift of the applications scored lately against training",
    responses={
        503: {
            "model": Message,
            "description": "the summary is due for a refresh and the audit database, which "
            "holds the window, does not answer",
        }
    },
)
async def drift(ctx: Ctx) -> DriftSummary:
    """The applications the API scored (`/v1/predict`, `/v1/predict/batch`, a stored client's
    score or explanation; not what-if simulations), their feature values only, in a rolling
    window kept in the audit database and shared by every worker, against the bundle's training
    reference with Evidently's default tests (docs/drift.md). `insufficient_data` below the
    window's `min_rows`; recomputed at most every API_DRIFT_REFRESH_S seconds unless
    API_DRIFT_REFRESH_ROWS applications arrived at this worker."""
    services = ctx.services
    window = services.drift
    summary = await run_in_threadpool(window.summary) if window is not None else None
    settings = window.settings if window is not None else window_settings(services.settings)
    return responses.drift(ctx.model, summary, settings, services.drift_unavailable)
