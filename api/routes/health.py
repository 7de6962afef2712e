"""Liveness and readiness (no key needed), and Prometheus metrics (their own token)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from api.schemas import Health, Message, Ready
from api.services import Services
from api.settings import Settings

router = APIRouter(tags=["health"])


RETRY_AFTER_S = 2


def unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        {"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


@router.get(
    "/health",
    summary="Health (App Service's health check): 503 while a dependency of every decision "
    "(audit database, model) is unreachable or stuck",
    response_model=Health,
    responses={503: {"model": Message}},
)
async def health(request: Request) -> Health | JSONResponse:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        return Health()  # starting: alive; /ready says when it can serve
    probe = await services.probe.result()
    if not probe.ok:
        return unavailable(f"dependency failing: {probe.detail()}")
    return Health()


@router.get(
    "/ready",
    summary="Readiness: bundle and clients loaded, audit database and model answer",
    response_model=Ready,
    responses={503: {"model": Message}},
)
async def ready(request: Request) -> Ready | JSONResponse:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        return unavailable("the API is starting")
    probe = await services.probe.result()
    if not probe.ok:
        return unavailable(f"not ready: {probe.detail()}")
    return Ready(
        model_version=services.model.version,
        clients=len(services.store),
        cache=services.cache_state,
    )


UNRESOLVED = "@Microsoft.KeyVault("  # what App Service leaves when a reference fails


def metrics_token(settings: Settings) -> str:
    """METRICS_TOKEN, or "" (metrics off) when unset or an unresolved Key Vault reference, whose
    text anyone reading the template knows."""
    token = settings.metrics_token
    return "" if token.startswith(UNRESOLVED) else token


metrics_bearer = HTTPBearer(
    auto_error=False, scheme_name="MetricsToken", description="METRICS_TOKEN (Prometheus)"
)


@router.get(
    "/metrics",
    summary="Prometheus metrics (every worker), with the bearer token METRICS_TOKEN",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: {"model": Message, "description": "missing or wrong bearer token"},
        404: {"model": Message, "description": "metrics are off (METRICS_TOKEN is not set)"},
    },
)
async def metrics(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(metrics_bearer)],
) -> Response:
    token = metrics_token(request.app.state.settings)
    if not token:
        raise HTTPException(status_code=404, detail="metrics are off: METRICS_TOKEN is not set")
    presented = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(presented.encode(), token.encode()):
        raise HTTPException(
            status_code=401,
            detail="missing or wrong metrics token (header Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    exposition = await run_in_threadpool(request.app.state.metrics.exposition)
    return Response(exposition, media_type=CONTENT_TYPE_LATEST)
