"""Application Insights through OpenTelemetry: requests, dependencies (the audit database, Redis,
outgoing HTTP) and exceptions. On only when APPLICATIONINSIGHTS_CONNECTION_STRING is set; without
it nothing is imported, patched or started.

No personal data leaves the process: every span goes through `scrub` before it is exported, which
keeps route templates (``/v1/clients/{client_id}/score``) and never a path value, query string,
caller address, credential header or exception message."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from api.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from sqlalchemy.engine import Engine

SERVICE_NAME = "scoring-api"  # the cloud role name in Application Insights
# Pinged every minute per instance by App Service, or scraped: noise, not requests.
EXCLUDED_URLS = "/health$,/ready$,/metrics$"
# Who called (an address is personal data) and what the URL carried besides its path.
_DROPPED = frozenset(
    {
        "url.query",
        "client.address",
        "client.port",
        "http.client_ip",
        "net.peer.ip",
        "net.peer.port",
        "net.sock.peer.addr",
        "net.sock.peer.port",
        "network.peer.address",
        "network.peer.port",
        "enduser.id",
    }
)
_PATHS = ("http.target", "url.path")
_URLS = ("http.url", "url.full")
_SECRET_HEADER = re.compile(r"^http\.(request|response)\.header\..*(key|auth|cookie|token)", re.I)
_ID_SEGMENT = re.compile(r"\d+|[0-9a-fA-F-]{16,}")
_ID_IN_TEXT = re.compile(r"(?<=/)(?:\d+|[0-9a-fA-F-]{16,})(?=[/?#\s]|$)")


@dataclass(frozen=True)
class Providers:
    tracer: TracerProvider
    meter: MeterProvider | None = None  # None: the global one (a no-op unless someone sets it)


def install(app: FastAPI, settings: Settings) -> None:
    """Hooked from the app factory: export to Application Insights when it is configured."""
    app.state.telemetry = None
    if settings.applicationinsights_connection_string:
        instrument(app, azure_monitor(settings.applicationinsights_connection_string))


def azure_monitor(connection_string: str) -> Providers:
    """Providers exporting to Application Insights: spans (scrubbed, see `scrub`) become the
    requests, dependencies and exceptions tables; the HTTP duration histograms become its
    standard `requests/duration` metric (route templates only, by construction).

    Not `configure_azure_monitor()`: it sets the process-wide providers, which FastAPI's own
    telemetry and any library would then feed, unscrubbed (and counting each request twice)."""
    from azure.monitor.opentelemetry.exporter import (
        AzureMonitorMetricExporter,
        AzureMonitorTraceExporter,
    )
    from opentelemetry.resource.detector.azure.app_service import (
        AzureAppServiceResourceDetector,
    )
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # App Service's site, slot and instance, under one role name for both slots.
    resource = (
        AzureAppServiceResourceDetector()
        .detect()
        .merge(Resource.create({"service.name": SERVICE_NAME}))
    )
    # The sampler follows OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default: every trace).
    tracer = TracerProvider(resource=resource)
    # The exporter reads the resource from its provider (else from the unset global one).
    exporter = AzureMonitorTraceExporter(
        connection_string=connection_string, tracer_provider=tracer
    )
    tracer.add_span_processor(BatchSpanProcessor(scrubbing_exporter(exporter)))
    reader = PeriodicExportingMetricReader(
        AzureMonitorMetricExporter(connection_string=connection_string)
    )
    return Providers(tracer, MeterProvider(metric_readers=[reader], resource=resource))


def instrument(app: FastAPI, providers: Providers) -> None:
    """Trace the app's requests, and Redis and httpx calls, into `providers` (scrubbing is the
    tracer provider's job: see `scrubbing_exporter`)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=providers.tracer,
        meter_provider=providers.meter,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )
    # Process-wide patches (one app per worker process); a second call is a no-op.
    RedisInstrumentor().instrument(tracer_provider=providers.tracer)
    HTTPXClientInstrumentor().instrument(
        tracer_provider=providers.tracer, meter_provider=providers.meter
    )
    app.state.telemetry = providers


def trace_database(app: FastAPI, engine: Engine) -> None:
    """Trace the audit log's SQL (SQLite or PostgreSQL) once the lifespan has built its engine."""
    providers: Providers | None = getattr(app.state, "telemetry", None)
    if providers is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # It declares SQLAlchemy < 2.1 but works with 2.1 (tests/api/test_telemetry.py checks).
    SQLAlchemyInstrumentor().instrument(
        engine=engine,
        tracer_provider=providers.tracer,
        meter_provider=providers.meter,
        skip_dep_check=True,
    )


def uninstrument() -> None:
    """Undo the process-wide patches (tests build several apps in one process)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    for instrumentor in (RedisInstrumentor(), HTTPXClientInstrumentor(), SQLAlchemyInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


def scrubbing_exporter(inner: SpanExporter) -> SpanExporter:
    """`inner`, receiving every span scrubbed of personal data and secrets."""
    from opentelemetry.sdk.trace.export import SpanExporter

    class ScrubbingExporter(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return inner.export([scrub(span) for span in spans])

        def shutdown(self) -> None:
            inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return inner.force_flush(timeout_millis)

    return ScrubbingExporter()


def scrub(span: ReadableSpan) -> ReadableSpan:
    """A copy of `span` with route templates instead of paths, and no query string, caller
    address, credential header or exception message."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Status

    events = [
        Event(event.name, scrub_event_attributes(event.name, event.attributes), event.timestamp)
        for event in span.events
    ]
    description = span.status.description
    status = Status(span.status.status_code, description.split(":", 1)[0] if description else None)
    return ReadableSpan(
        name=_ID_IN_TEXT.sub("{id}", span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=scrub_attributes(span.attributes),
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def scrub_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    attributes = dict(attributes or {})
    route = attributes.get("http.route")
    kept: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in _DROPPED or _SECRET_HEADER.match(key):
            continue
        if key in _PATHS:
            value = route or mask_path(str(value))
        elif key in _URLS:
            parts = urlsplit(str(value))
            path = route or mask_path(parts.path)
            value = f"{parts.scheme}://{parts.hostname or ''}{_port(parts.port)}{path}"
        kept[key] = value
    return kept


def scrub_event_attributes(name: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    kept = scrub_attributes(attributes)
    if name == "exception":
        kind = str(kept.get("exception.type", "Exception"))
        kept["exception.message"] = kind.rsplit(".", 1)[-1]
        if "exception.stacktrace" in kept:
            kept["exception.stacktrace"] = redact_traceback(str(kept["exception.stacktrace"]))
    return kept


def mask_path(path: str) -> str:
    """``/v1/clients/100002/score?lang=fr`` -> ``/v1/clients/{id}/score``."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    return "/".join("{id}" if _ID_SEGMENT.fullmatch(s) else s for s in path.split("/"))


def redact_traceback(text: str) -> str:
    """Keep the frames (file, line, source) and each exception's type, drop its message: the
    message may hold a value (a client id, an amount), the frames never do."""
    lines: list[str] = []
    in_message = False
    for line in text.splitlines():
        if not line.strip() or line.startswith(("Traceback", "During handling", "The above")):
            in_message = False
            lines.append(line)
        elif in_message:
            continue  # the rest of a multi-line message
        elif line[:1].isspace():
            lines.append(line)  # a frame or its source line
        else:  # "module.ErrorType: message"
            lines.append(line.split(":", 1)[0])
            in_message = True
    return "\n".join(lines)


def _port(port: int | None) -> str:
    return f":{port}" if port else ""
