"""Liveness, readiness and Prometheus metrics: no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from api.errors import NotReadyError
from api.schemas import Health, Message, Ready
from api.services import Services

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness")
async def health() -> Health:
    return Health()


@router.get(
    "/ready",
    summary="Readiness: bundle and clients loaded, database reachable",
    responses={503: {"model": Message}},
)
async def ready(request: Request) -> Ready:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise NotReadyError("the API is starting")
    if not await run_in_threadpool(services.audit.ping):
        raise NotReadyError("the audit database is unreachable")
    return Ready(
        model_version=services.model.version,
        clients=len(services.store),
        cache=services.cache_state,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
