"""The app factory. Nothing heavy happens here: the lifespan loads the bundle and the clients."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from api import docs, errors, openapi, security, telemetry
from api.bodylimit import BodySizeLimitMiddleware
from api.deps import unchecked_query_routes
from api.observability import Metrics, ObservabilityMiddleware, configure_logging
from api.routes import clients, features, health, model, predict
from api.settings import Settings

log = logging.getLogger("api.app")

DESCRIPTION = """Credit scoring for *Prêt à dépenser*: scores, SHAP explanations and context for
customer advisors. Every route under `/v1` needs the header `X-API-Key`; scores and explanations
are written to the decision audit log. Decisions: a client is refused when the probability of
payment difficulties is at or above the threshold. SHAP contributions are in log-odds."""


class ScoringAPI(FastAPI):
    """FastAPI with the security headers outside everything, Starlette's error middleware
    included (even the 500 of an unexpected error carries them), without touching the
    middleware stack that OpenTelemetry's instrumentation rebuilds."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._outermost = security.SecurityHeadersMiddleware(super().__call__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._outermost(scope, receive, send)


class ConfigError(RuntimeError):
    """A setting is unusable; the message says which and why."""


def check(settings: Settings) -> None:
    """What create_app cannot refuse without a traceback at import, refused at start-up."""
    if settings.metrics_token and not health.metrics_token(settings):
        log.error("METRICS_TOKEN is an unresolved Key Vault reference: /metrics stays off")
    invalid = security.invalid_origins(settings.api_cors_origins)
    if invalid:
        raise ConfigError(
            f"API_CORS_ORIGINS: {', '.join(invalid)}: expected origins such as "
            "https://dashboard.example.com, comma-separated"
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from api.services import build  # the core (lightgbm, pandas) loads here, not at import

        check(settings)
        services = await run_in_threadpool(build, settings, metrics)
        telemetry.trace_database(app, services.audit.engine)
        app.state.services = services
        try:
            yield
        finally:
            app.state.services = None
            await services.close()

    app = ScoringAPI(
        title="Prêt à dépenser: credit scoring API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local assets by api/docs.py
        redoc_url=None,
        generate_unique_id_function=openapi.operation_id,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.services = None
    errors.install(app)
    routers = [module.router for module in (health, clients, features, predict, model)]
    for router in routers:
        app.include_router(router)
    unchecked = unchecked_query_routes(route for router in routers for route in router.routes)
    if unchecked:  # a route would ignore a misspelt query parameter silently
        raise RuntimeError(f"routes not refusing unknown query parameters: {unchecked}")
    docs.install(app)
    openapi.install(app)
    security.install(app, settings.api_cors_origins)  # innermost: preflights are logged too
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.api_max_body_bytes,
        per_path={"/v1/predict/batch": settings.api_max_batch_body_bytes},
    )
    app.add_middleware(
        ObservabilityMiddleware, metrics=metrics, log_requests=settings.api_log_requests
    )
    telemetry.install(app, settings)
    return app
