"""Liveness and readiness (no key needed), and Prometheus metrics (their own token)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from api.errors import NotReadyError
from api.schemas import Health, Message, Ready
from api.services import Services
from api.settings import Settings

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
