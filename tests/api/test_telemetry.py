"""Application Insights telemetry (api/telemetry.py): requests, dependencies and exceptions are
traced with route templates and no personal data; nothing happens without a connection string."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from api import telemetry
from api.app import create_app
from api.settings import Settings
from tests.api.conftest import HEADERS, KEY, METRICS_HEADERS, services_of

REPO_ROOT = Path(__file__).resolve().parents[2]
SCORE_ROUTE = "/v1/clients/{client_id}/score"


@dataclass
class Traced:
    client: TestClient
    exported: InMemorySpanExporter  # what Application Insights would receive
    raw: InMemorySpanExporter  # the same spans before scrubbing (the test's control)
    cid: int

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exported.get_finished_spans()


def boom_route(app: FastAPI) -> None:
    """An endpoint failing with a message that names a client, as a bug could."""

    @app.get("/v1/boom/{client_id}")
    async def boom(client_id: int) -> None:
        raise RuntimeError(f"client {client_id} has no AMT_CREDIT")


@contextmanager
def traced_app(settings: Settings) -> Iterator[Traced]:
    exported, raw = InMemorySpanExporter(), InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(telemetry.scrubbing_exporter(exported)))
    provider.add_span_processor(SimpleSpanProcessor(raw))
    app = create_app(settings)
    boom_route(app)
    telemetry.instrument(app, telemetry.Providers(provider))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            cid = int(services_of(app).store.ids[0])
            yield Traced(client, exported, raw, cid)
    finally:
        telemetry.uninstrument()


@pytest.fixture
def traced(base_settings: Settings, tmp_path: Path) -> Iterator[Traced]:
    settings = base_settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path}/audit.db", "api_warm_cache": False}
    )
    with traced_app(settings) as traced:
        yield traced


def strings_of(span: ReadableSpan) -> list[str]:
    """Every text a span carries: its name, status, attribute names and values, events."""
    texts = [span.name, str(span.status.description)]
    for key, value in (span.attributes or {}).items():
        texts += [key, str(value)]
    for event in span.events:
        for key, value in (event.attributes or {}).items():
            texts += [key, str(value)]
    return texts


def server_span(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [s for s in spans if s.kind == SpanKind.SERVER and s.name == name]
    assert len(found) == 1, [(s.name, s.kind) for s in spans]
    return found[0]


def test_a_request_is_traced_with_its_route_template_and_without_the_client_or_key(
    traced: Traced,
) -> None:
    response = traced.client.get(f"/v1/clients/{traced.cid}/score?lang=fr", headers=HEADERS)
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == traced.cid
    assert response.headers["X-Request-ID"]  # the API's own middleware still runs

    spans = traced.spans()
    request = server_span(spans, f"GET {SCORE_ROUTE}")
    attributes = request.attributes or {}
    assert attributes["http.route"] == SCORE_ROUTE
    assert attributes["http.target"] == SCORE_ROUTE
    assert attributes["http.status_code"] == 200
    assert str(attributes["http.url"]).endswith(SCORE_ROUTE)
    assert "url.query" not in attributes
    for span in spans:
        for text in strings_of(span):
            assert str(traced.cid) not in text, (span.name, text)
            assert KEY not in text, (span.name, text)
            assert "lang=fr" not in text, (span.name, text)
    # The control: before scrubbing, the same request carried the client id in its path.
    raw = server_span(traced.raw.get_finished_spans(), f"GET {SCORE_ROUTE}")
    assert str(traced.cid) in str((raw.attributes or {})["http.target"])


def test_the_audit_write_is_a_dependency_of_the_request(traced: Traced) -> None:
    response = traced.client.get(f"/v1/clients/{traced.cid}/score", headers=HEADERS)
    assert response.status_code == 200, response.text
    spans = traced.spans()
    request = server_span(spans, f"GET {SCORE_ROUTE}")
    queries = [
        s
        for s in spans
        if s.kind == SpanKind.CLIENT and (s.attributes or {}).get("db.system") == "sqlite"
    ]
    # the audit table's rows; the drift window's (`<table>_drift`) are written by the same
    # thread when it gets to them, in a trace of their own: they serve no request
    table = services_of(traced.client.app).settings.audit_table  # type: ignore[arg-type]
    inserts = [
        s
        for s in queries
        if str((s.attributes or {}).get("db.statement")).startswith(f"INSERT INTO {table} (")
    ]
    assert inserts, [s.name for s in spans]
    assert request.context is not None
    assert all(s.context is not None for s in inserts)
    assert {s.context.trace_id for s in inserts if s.context} == {request.context.trace_id}
    # Bound parameters, never the values.
    assert all(str(traced.cid) not in str(s.attributes) for s in inserts)


def test_an_unhandled_error_is_recorded_as_an_exception_without_its_message(
    traced: Traced,
) -> None:
    response = traced.client.get("/v1/boom/424242", headers=HEADERS)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    request = server_span(traced.spans(), "GET /v1/boom/{client_id}")
    assert request.status.status_code == StatusCode.ERROR
    (event,) = [e for e in request.events if e.name == "exception"]
    attributes = event.attributes or {}
    assert attributes["exception.type"] == "RuntimeError"
    assert attributes["exception.message"] == "RuntimeError"
    stack = str(attributes["exception.stacktrace"])
    assert 'raise RuntimeError(f"client {client_id} has no AMT_CREDIT")' in stack  # the frame
    assert "424242" not in stack
    assert all("424242" not in text for text in strings_of(request))


def test_health_and_metrics_are_not_traced_and_metrics_still_count_requests(
    traced: Traced,
) -> None:
    assert traced.client.get("/health").status_code == 200
    assert traced.client.get(f"/v1/clients/{traced.cid}", headers=HEADERS).status_code == 200
    metrics = traced.client.get("/metrics", headers=METRICS_HEADERS)
    assert metrics.status_code == 200
    assert 'route="/v1/clients/{client_id}"' in metrics.text
    assert 'route="/health"' in metrics.text
    names = [s.name for s in traced.spans() if s.kind == SpanKind.SERVER]
    assert names == ["GET /v1/clients/{client_id}"]


@pytest.mark.redis
def test_redis_calls_are_dependencies_without_their_arguments(
    base_settings: Settings, tmp_path: Path
) -> None:
    key_name = f"otel-{uuid.uuid4().hex[:8]}"  # its own rate-limit counter in the shared Redis
    settings = base_settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path}/audit.db",
            "api_warm_cache": False,
            "api_keys": f"{key_name}:{KEY}",
            "api_rate_limit": 1000,
            "redis_url": "redis://127.0.0.1:6379/0",
        }
    )
    with traced_app(settings) as traced:
        response = traced.client.get(f"/v1/clients/{traced.cid}", headers=HEADERS)
        assert response.status_code == 200, response.text
        spans = traced.spans()
        redis = [s for s in spans if (s.attributes or {}).get("db.system") == "redis"]
        assert redis, [s.name for s in spans]
        request = server_span(spans, "GET /v1/clients/{client_id}")
        assert request.context is not None
        assert all(s.context and s.context.trace_id == request.context.trace_id for s in redis)
        statements = [str((s.attributes or {}).get("db.statement", "")) for s in redis]
        assert all(key_name not in text for text in statements), statements


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            {"http.route": SCORE_ROUTE, "http.target": "/v1/clients/100002/score?lang=fr"},
            {"http.route": SCORE_ROUTE, "http.target": SCORE_ROUTE},
        ),
        (  # no route matched (a 404): the path, ids masked
            {"url.path": "/v1/client/100002", "url.query": "lang=fr", "client.address": "10.1.2.3"},
            {"url.path": "/v1/client/{id}"},
        ),
        (  # an outgoing call (httpx): no query, no credentials in the URL
            {"url.full": "https://u:p@api.example:8443/v1/clients/7/score?lang=en"},
            {"url.full": "https://api.example:8443/v1/clients/{id}/score"},
        ),
        (
            {"http.request.header.x_api_key": ("k",), "http.request.header.accept": ("*/*",)},
            {"http.request.header.accept": ("*/*",)},
        ),
    ],
)
def test_scrub_attributes(attributes: dict[str, Any], expected: dict[str, Any]) -> None:
    assert telemetry.scrub_attributes(attributes) == expected


def test_redact_traceback_keeps_frames_and_types_only() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "api/x.py", line 3, in f\n'
        "    g(cid)\n"
        "KeyError: '100002'\n"
        "\n"
        "During handling of the above exception, another exception occurred:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "api/x.py", line 5, in f\n'
        "    raise ValueError(detail)\n"
        "ValueError: client 100002\n"
        "second line of the message, Alice\n"
    )
    redacted = telemetry.redact_traceback(text)
    assert "100002" not in redacted
    assert "Alice" not in redacted
    assert '  File "api/x.py", line 5, in f' in redacted
    assert "    raise ValueError(detail)" in redacted
    assert redacted.splitlines()[3] == "KeyError"
    assert redacted.splitlines()[-1] == "ValueError"


def test_without_a_connection_string_nothing_is_imported_or_instrumented() -> None:
    code = (
        "import sys\n"
        "from api.app import create_app\n"
        "from api.settings import Settings\n"
        "app = create_app(Settings())\n"
        "loaded = sorted(m for m in sys.modules"
        " if m.startswith(('azure', 'opentelemetry.instrumentation', 'opentelemetry.sdk')))\n"
        "print(loaded, app.state.telemetry,"
        " getattr(app, '_is_instrumented_by_opentelemetry', False))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] None False"
