"""The OpenAPI document is valid and complete, and a schemathesis run of 1,200 generated
requests over every operation, on real client ids, finds no server error and no answer that
breaks the document (status, content type, headers, body schema)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from pydantic import BaseModel
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import schemas as api_schemas
from api.services import Services
from tests.api.conftest import HEADERS, METRICS_HEADERS, services_of

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
    ("get", "/v1/model/drift"),
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
    make_client: Callable[..., Any],
) -> None:
    """Schemathesis against the real app (demo bundle, demo clients, audit log): valid and
    invalid requests over every operation, half of them on real client ids and feature names,
    most with a valid key; every answer must be documented and match its schema. The app is
    its own: schemathesis runs the app's lifespan, whose shutdown ends the app's services."""
    with make_client() as fresh:
        services = services_of(fresh.app)
        client_ids = [int(i) for i in services.store.ids]
        _run_schemathesis(fresh, client_ids, services)


def _run_schemathesis(client: TestClient, client_ids: list[int], services: Services) -> None:
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


ERROR_MODELS = {"Message", "Invalid"}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def _model_of(schema: dict[str, Any]) -> type[BaseModel]:
    model = getattr(api_schemas, schema["$ref"].rsplit("/", 1)[-1])
    assert issubclass(model, BaseModel)
    return model


def test_every_operation_has_a_readable_id_a_tag_and_examples(client: TestClient) -> None:
    """What a generator needs: a unique snake_case id, a tag, an example of the body sent and
    of every answer, each example a valid instance of its typed model."""
    spec = client.get("/openapi.json").json()
    ids = [op["operationId"] for _, _, op in _operations(spec)]
    assert len(set(ids)) == len(ids) == len(CONTRACT)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", i) for i in ids), ids
    assert {"get_client_score", "list_clients", "predict_batch", "get_health"} <= set(ids)
    tags = {t["name"] for t in spec["tags"]}
    for method, path, op in _operations(spec):
        where = (method, path)
        assert len(op["tags"]) == 1, where
        assert op["tags"][0] in tags, where
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            _model_of(body["schema"]).model_validate(body["example"])
        for status, answer in op["responses"].items():
            for media, content in answer.get("content", {}).items():
                assert content.get("example") is not None, (where, status, media)
                if media == "application/json":
                    _model_of(content["schema"]).model_validate(content["example"])
            if status != "200":
                schema = answer["content"]["application/json"]["schema"]
                assert schema["$ref"].rsplit("/", 1)[-1] in ERROR_MODELS, (where, status)
        statuses = set(op["responses"])
        if path.startswith("/v1/"):
            assert {"401", "429", "503"} <= statuses, where
            assert op["responses"]["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
        if "parameters" in op or body is not None:
            assert "422" in statuses, where
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_error_statuses_served_are_documented(client: TestClient) -> None:
    """The errors the document lists are the ones the API answers, with their typed bodies."""
    spec = client.get("/openapi.json").json()
    checks = [
        ("get", "/v1/clients/999999999/score", {}, "404", "/v1/clients/{client_id}/score"),
        ("get", "/v1/clients?limit=0", {}, "422", "/v1/clients"),
        ("get", "/v1/model", {"X-API-Key": "wrong"}, "401", "/v1/model"),
    ]
    for method, url, headers, status, path in checks:
        answer = client.request(method, url, headers=headers or HEADERS)
        assert str(answer.status_code) == status, url
        assert status in spec["paths"][path][method]["responses"]
        model = _model_of(
            spec["paths"][path][method]["responses"][status]["content"]["application/json"][
                "schema"
            ]
        )
        model.model_validate(answer.json())
