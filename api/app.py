"""The app factory. Nothing heavy happens here: the lifespan loads the bundle and the clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import errors, telemetry
from api.bodylimit import BodySizeLimitMiddleware
from api.observability import Metrics, ObservabilityMiddleware, configure_logging
from api.routes import clients, features, health, model, predict
from api.settings import Settings

DESCRIPTION = """Credit scoring for *Prêt à dépenser*: scores, SHAP explanations and context for
customer advisors. Every route under `/v1` needs the header `X-API-Key`; scores and explanations
are written to the decision audit log. Decisions: a client is refused when the probability of
payment difficulties is at or above the threshold. SHAP contributions are in log-odds."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from api.services import build  # the core (lightgbm, pandas) loads here, not at import

        services = await run_in_threadpool(build, settings, metrics)
        telemetry.trace_database(app, services.audit.engine)
        app.state.services = services
        try:
            yield
        finally:
            app.state.services = None
            await services.close()

    app = FastAPI(
        title="Prêt à dépenser: credit scoring API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.services = None
    errors.install(app)
    for module in (health, clients, features, predict, model):
        app.include_router(module.router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(
        ObservabilityMiddleware, metrics=metrics, log_requests=settings.api_log_requests
    )
    telemetry.install(app, settings)
    return app
