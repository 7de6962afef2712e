"""The shared client (pret_a_depenser_client, which the dashboard uses) against the API's own
OpenAPI document.

The API, the dashboard and the integrators' code deploy separately, so nothing but this test
stops a renamed response field from passing every test suite and breaking the deployed
dashboard or an integration. For every method of the client: the request it sends is an
operation of the API (path, method, query parameters, body schema), and every field of its
response model exists in the API's response schema with a type it can hold; every model of the
package is checked so. Both workflows run this folder.
"""

from __future__ import annotations

import contextlib
import copy
import re
import typing
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jsonschema
import pret_a_depenser_client as api_client
import pytest
from pret_a_depenser_client import ApiClient, models

from api.app import create_app
from api.settings import Settings
from dashboard.api_client import ScoringApi
from tests.contract.typecheck import Components, Schema, typeddict_mismatches


def _arrow_stream(columns: dict[str, list[float | None]]) -> bytes:
    import pyarrow as pa
    import pyarrow.ipc

    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


# method -> (how to call it, the TypedDict of the whole response body)
CALLS: dict[str, tuple[Callable[[ApiClient], Any], type]] = {
    "health": (lambda c: c.health(), api_client.Health),
    "ready": (lambda c: c.ready(), api_client.Ready),
    "search_clients": (lambda c: c.search_clients("10", limit=5, offset=5), api_client.ClientPage),
    "features": (lambda c: c.features(lang="fr"), api_client.FeatureList),
    "client": (lambda c: c.client(100001), api_client.ClientRecord),
    "client_features": (lambda c: c.client_features(100001), api_client.ClientFeatures),
    "score": (lambda c: c.score(100001), api_client.ClientScore),
    "predict": (
        lambda c: c.predict({"EXT_SOURCE_2": 0.5, "OWN_CAR_AGE": None}),
        api_client.Prediction,
    ),
    "predict_batch": (
        lambda c: c.predict_batch([{"EXT_SOURCE_2": 0.5}, {}]),
        api_client.BatchPrediction,
    ),
    "predict_batch_arrow": (
        lambda c: c.predict_batch_arrow(_arrow_stream({"EXT_SOURCE_2": [0.5, None]})),
        api_client.BatchPrediction,
    ),
    "explain": (
        lambda c: c.explain({"EXT_SOURCE_2": 0.5}, top=5, lang="fr", group=True),
        api_client.Explanation,
    ),
    "explanation": (lambda c: c.explanation(100001, top=5, lang="fr"), api_client.Explanation),
    "explain_changes": (
        lambda c: c.explain_changes(100001, {"AMT_CREDIT": 250000.0}, lang="fr"),
        api_client.Explanation,
    ),
    "distribution": (
        lambda c: c.distribution("EXT_SOURCE_2", 100001, lang="fr"),
        api_client.Distribution,
    ),
    "scatter": (lambda c: c.scatter("EXT_SOURCE_2", "AGE_YEARS"), api_client.Scatter),
    "neighbors": (lambda c: c.neighbors(100001, k=5), api_client.Neighbors),
    "counterfactual": (lambda c: c.counterfactual(100001, lang="fr"), api_client.Counterfactual),
    "model": (lambda c: c.model(), api_client.ModelCard),
    "importance": (lambda c: c.importance(top=5, lang="fr"), api_client.ImportanceList),
    "fairness": (lambda c: c.fairness(lang="fr"), api_client.Fairness),
    "drift": (lambda c: c.drift(), api_client.DriftSummary),
}


@pytest.fixture(scope="module")
def openapi() -> Schema:
    return create_app(Settings(api_keys="contract:test")).openapi()


def _public_methods(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_") and callable(vars(cls)[name])}


def test_every_client_method_is_checked() -> None:
    assert _public_methods(ApiClient) - {"close", "with_options"} == set(CALLS)
    assert _public_methods(ScoringApi) <= set(CALLS)  # what the dashboard's pages call


def _typeddicts_in(annotation: Any) -> Iterator[type]:
    if typing.is_typeddict(annotation):
        yield annotation
        for hint in typing.get_type_hints(annotation).values():
            yield from _typeddicts_in(hint)
    for arg in typing.get_args(annotation):
        yield from _typeddicts_in(arg)


# Models checked through others: Score is the base of ClientScore, Prediction and Explanation.
CHECKED_THROUGH_SUBCLASSES = {"Score"}


def test_every_model_of_the_package_is_checked_against_the_api() -> None:
    checked = {t.__name__ for _, shape in CALLS.values() for t in _typeddicts_in(shape)}
    package = {name for name, value in vars(models).items() if typing.is_typeddict(value)}
    assert package - checked == CHECKED_THROUGH_SUBCLASSES


def test_the_field_errors_of_a_422_are_the_apis(openapi: Schema) -> None:
    schema = {"$ref": "#/components/schemas/FieldError"}
    components = Components(openapi)
    assert typeddict_mismatches(api_client.FieldError, schema, components, "FieldError") == []


def _operation(openapi: Schema, method: str, path: str) -> Schema:
    for template, operations in openapi["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return dict(operations[method.lower()])
    raise AssertionError(f"{method} {path}: no such operation in the API")


def example(schema: Schema, components: Components) -> Any:
    """A value the schema allows, every optional field included (the dashboard may read it)."""
    schema = components.resolve(schema)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if components.resolve(o).get("type") != "null"]
        return example(options[0], components) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        if "properties" in schema:
            return {k: example(v, components) for k, v in schema["properties"].items()}
        return {"EXT_SOURCE_2": example(schema.get("additionalProperties", {}), components)}
    if kind == "array":
        return [example(schema.get("items", {}), components)]
    return {"string": "text", "integer": 1, "number": 0.5, "boolean": True}.get(str(kind))


class Recorder:
    """An httpx transport that checks each request against the API's operations and answers
    with a body built from the operation's response schema."""

    def __init__(self, openapi: Schema) -> None:
        self.openapi = openapi
        self.components = Components(openapi)
        self.operations: list[Schema] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        operation = _operation(self.openapi, request.method, request.url.path)
        self.operations.append(operation)
        self._check_query(operation, request)
        if request.content:
            self._check_body(operation, request)
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        return httpx.Response(200, json=example(ok, self.components))

    def _check_query(self, operation: Schema, request: httpx.Request) -> None:
        declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        for name, value in request.url.params.multi_items():
            assert name in declared, f"{request.url.path}: query parameter {name!r} is unknown"
            schema = self.components.resolve(declared[name]["schema"])
            if "enum" in schema:
                assert value in schema["enum"], f"{name}={value!r} is not one of {schema['enum']}"

    def _check_body(self, operation: Schema, request: httpx.Request) -> None:
        media = request.headers.get("content-type", "").split(";")[0].strip()
        content = operation["requestBody"]["content"]
        assert media in content, f"{request.url.path}: the API takes no {media} body"
        if media != "application/json":  # a binary body: its media type is what is declared
            return
        body_schema = content["application/json"]["schema"]
        document = {**body_schema, "components": self.openapi["components"]}
        jsonschema.validate(httpx.Response(200, content=request.content).json(), document)


@pytest.mark.parametrize("method", sorted(CALLS))
def test_request_is_an_operation_and_the_answer_is_read(openapi: Schema, method: str) -> None:
    recorder = Recorder(openapi)
    client = ApiClient("http://api.test", "key", transport=httpx.MockTransport(recorder))
    call, _ = CALLS[method]
    call(client)  # raises if the client cannot read a body the API's schema allows
    assert len(recorder.operations) == 1


@pytest.mark.parametrize("method", sorted(CALLS))
def test_fields_of_the_clients_models_exist_with_their_types(openapi: Schema, method: str) -> None:
    recorder = Recorder(openapi)
    client = ApiClient("http://api.test", "key", transport=httpx.MockTransport(recorder))
    call, shape = CALLS[method]
    with contextlib.suppress(api_client.ApiError):  # reading the body is the test above's job
        call(client)
    ok = recorder.operations[0]["responses"]["200"]["content"]["application/json"]["schema"]
    components = Components(openapi)
    assert typeddict_mismatches(shape, ok, components, shape.__name__) == []


def _renamed(openapi: Schema, component: str, old: str, new: str) -> Schema:
    changed = copy.deepcopy(openapi)
    schema = changed["components"]["schemas"][component]
    schema["properties"][new] = schema["properties"].pop(old)
    schema["required"] = [new if r == old else r for r in schema.get("required", [])]
    return changed


def test_a_renamed_response_field_breaks_the_contract(openapi: Schema) -> None:
    """The check above can fail: rename one field the dashboard reads, as a refactor would."""
    changed = _renamed(openapi, "Explanation", "decision", "verdict")
    ok = {"$ref": "#/components/schemas/Explanation"}
    problems = typeddict_mismatches(api_client.Explanation, ok, Components(changed), "Explanation")
    assert problems == ["Explanation.decision: the API's Explanation has no such field"]


def test_a_new_enum_value_breaks_the_contract(openapi: Schema) -> None:
    """A decision the dashboard does not know (e.g. a new outcome) must be caught too."""
    changed = copy.deepcopy(openapi)
    decision = changed["components"]["schemas"]["Explanation"]["properties"]["decision"]
    assert "refer" in decision["enum"]  # the dashboard knows the three outcomes of today
    decision["enum"] = [*decision["enum"], "escalate"]
    ok = {"$ref": "#/components/schemas/Explanation"}
    problems = typeddict_mismatches(api_client.Explanation, ok, Components(changed), "Explanation")
    assert problems == [
        "Explanation.decision: the API may send ['escalate'], unknown to the dashboard"
    ]
