"""The OpenAPI document is valid and complete, and a schemathesis run of 1,200 generated
requests over every operation, on real client ids, finds no server error and no answer that
breaks the document (status, content type, headers, body schema)."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services import Services
from tests.api.conftest import HEADERS, METRICS_HEADERS

CONTRACT = {
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("get", "/v1/clients"),
    ("get", "/v1/clients/{client_id}"),
    ("get", "/v1/clients/{client_id}/features"),
    ("get", "/v1/clients/{client_id}/score"),
    ("get", "/v1/clients/{client_id}/explanation"),
    ("get", "/v1/clients/{client_id}/neighbors"),
    ("get", "/v1/clients/{client_id}/counterfactual"),
    ("get", "/v1/features"),
    ("get", "/v1/features/{name}/distribution"),
    ("get", "/v1/features/scatter"),
    ("get", "/v1/model"),
    ("get", "/v1/model/importance"),
    ("get", "/v1/model/fairness"),
    ("post", "/v1/predict"),
    ("post", "/v1/predict/batch"),
    ("post", "/v1/explain"),
}


def test_openapi_is_valid_and_covers_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    validate(spec)
    served = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert served == CONTRACT
    schemes = spec["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key", "description": "API key",
    }  # fmt: skip
    assert schemes["MetricsToken"] == {
        "type": "http", "scheme": "bearer", "description": "METRICS_TOKEN (Prometheus)",
    }  # fmt: skip
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = op["responses"]["200"]["content"]
            if path == "/metrics":
                assert "text/plain" in ok
            else:
                assert "$ref" in ok["application/json"]["schema"], (method, path)
            protected = path.startswith("/v1/")
            if path == "/metrics":  # its own bearer token, not an API key
                assert op["security"] == [{"MetricsToken": []}]
                assert {"401", "404"} <= set(op["responses"])
            else:
                assert ("security" in op) == protected, (method, path)
            if protected:
                assert "401" in op["responses"], (method, path)
    examples = [
        name for name, schema in spec["components"]["schemas"].items() if "examples" in schema
    ]
    expected = {"ClientScore", "Explanation", "ExplainRequest", "PredictRequest", "Distribution"}
    assert expected <= set(examples)


def test_docs_are_public(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200


CHECKS = [
    not_a_server_error,
    status_code_conformance,  # every status is documented for its operation
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,  # every body matches its documented schema
    negative_data_rejection,  # a request the schema forbids is refused
]
CASES = 1200


def with_real_ids(case: schemathesis.Case, cid: int, feature: str, real: bool) -> None:
    """Point half the cases at a stored client and model features, so that they reach the
    scoring code instead of a 404."""
    if not real:
        return
    path = case.path_parameters or {}
    if type(path.get("client_id")) is int:  # not a value made invalid on purpose
        path["client_id"] = cid
    if isinstance(path.get("name"), str):
        path["name"] = feature
    query = case.query or {}
    for axis in ("x", "y"):  # the scatter's two features
        if isinstance(query.get(axis), str):
            query[axis] = feature
    if isinstance(case.body, dict) and type(case.body.get("client_id")) is int:
        case.body["client_id"] = cid


def with_real_credentials(case: schemathesis.Case) -> None:
    """The generated key (or metrics token) replaced by a valid one, where the case has one: a
    case whose credentials were left out on purpose keeps them out."""
    headers = case.headers or {}
    if "X-API-Key" in headers:
        headers["X-API-Key"] = HEADERS["X-API-Key"]
    if "Authorization" in headers:
        headers["Authorization"] = METRICS_HEADERS["Authorization"]


@pytest.mark.slow
def test_generated_requests_find_no_server_error_nor_schema_violation(
    client: TestClient, client_ids: list[int], services: Services
) -> None:
    """Schemathesis against the real app (demo bundle, demo clients, audit log): valid and
    invalid requests over every operation, half of them on real client ids and feature names,
    most with a valid key; every answer must be documented and match its schema."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    strategy = schema.as_strategy() | schema.as_strategy(GenerationMode.NEGATIVE)
    features = list(services.model.feature_names)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations: set[str] = set()
    reached: set[str] = set()

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # exactly CASES generated cases, no shrinking
    )
    @given(
        case=strategy,
        keyed=st.sampled_from([True, True, True, False]),
        real=st.booleans(),
        cid=st.sampled_from(client_ids),
        feature=st.sampled_from(features),
    )
    def run(case: schemathesis.Case, keyed: bool, real: bool, cid: int, feature: str) -> None:
        with_real_ids(case, cid, feature, real)
        if keyed:
            with_real_credentials(case)
        response = case.call()
        statuses[response.status_code] += 1
        operations.add(case.operation.label)
        if response.status_code == 200:
            reached.add(case.operation.label)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as error:  # one check, or several
            failures.append(f"{case.operation.label} -> {response.status_code}: {error}")

    run()
    assert sum(statuses.values()) == CASES
    assert failures == [], "\n\n".join(failures[:5])
    assert not [s for s in statuses if s >= 500]
    assert {200, 401, 404, 422} <= set(statuses)  # valid, unauthenticated and invalid ran
    assert len(operations) == len(CONTRACT)  # every operation was called
    assert len(reached) >= len(CONTRACT) - 2, sorted(reached)  # and most served a 200
