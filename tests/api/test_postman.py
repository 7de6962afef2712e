"""The committed Postman collection is what `make postman` generates from the OpenAPI document,
has the v2.1 structure, and every request of it succeeds on the demo test bundle with the
status and the body field its test script checks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api import postman
from tests.api.conftest import KEY, METRICS_TOKEN

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "postman"


def _committed(name: str) -> dict[str, Any]:
    data = json.loads((COMMITTED / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _requests(collection: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for folder in collection["item"] for item in folder["item"]]


def test_the_committed_files_are_what_make_postman_generates() -> None:
    for name, text in postman.files().items():
        committed = (COMMITTED / name).read_text(encoding="utf-8")
        assert committed == text, f"docs/postman/{name} is stale: run make postman"


def test_the_collection_has_the_v2_1_structure_and_one_request_per_operation() -> None:
    collection = _committed(postman.COLLECTION)
    assert collection["info"]["schema"] == postman.SCHEMA
    assert {"name", "schema"} <= set(collection["info"])
    spec = postman.openapi()
    operations = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    items = _requests(collection)
    assert {item["name"] for item in items} == operations
    assert len(items) == len(operations)
    for folder in collection["item"]:
        assert isinstance(folder["name"], str)
        assert isinstance(folder["item"], list)
    for item in items:
        request = item["request"]
        assert request["method"] in {"GET", "POST"}, item["name"]
        url = request["url"]
        assert url["raw"].startswith("{{baseUrl}}/"), item["name"]
        assert url["host"] == ["{{baseUrl}}"]
        assert "/".join(url["path"]) in url["raw"]
        assert not re.search(r"(?<!\{)\{[a-z_]+\}(?!\})", url["raw"]), "unfilled path parameter"
        for header in request["header"]:
            assert set(header) == {"key", "value"}
        if "body" in request:
            assert request["body"]["mode"] == "raw"
        if request.get("auth"):
            kind = request["auth"]["type"]
            assert kind in ("apikey", "bearer")
            for entry in request["auth"][kind]:
                assert {"key", "value", "type"} <= set(entry)
        (event,) = item["event"]
        assert event["listen"] == "test"
        assert event["script"]["type"] == "text/javascript"
        assert any("to.have.status(200)" in line for line in event["script"]["exec"])
    environment = _committed(postman.ENVIRONMENT)
    assert {v["key"] for v in environment["values"]} >= {"baseUrl", "apiKey"}
    assert environment["_postman_variable_scope"] == "environment"


FIELD = re.compile(r'to\.have\.property\("([^"]+)"\)')


def test_every_request_succeeds_on_the_demo_as_its_test_script_expects(
    client: TestClient, client_ids: list[int]
) -> None:
    values = {"baseUrl": "", "apiKey": KEY, "clientId": str(client_ids[0])}
    values["metricsToken"] = METRICS_TOKEN

    def fill(text: str) -> str:
        return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)

    for item in _requests(_committed(postman.COLLECTION)):
        request = item["request"]
        headers = {h["key"]: fill(h["value"]) for h in request["header"]}
        auth = request.get("auth")
        if auth and auth["type"] == "apikey":
            entries = {e["key"]: e["value"] for e in auth["apikey"]}
            headers[entries["key"]] = fill(entries["value"])
        elif auth and auth["type"] == "bearer":
            headers["Authorization"] = "Bearer " + fill(auth["bearer"][0]["value"])
        body = request.get("body", {}).get("raw")
        answer = client.request(
            request["method"],
            fill(request["url"]["raw"]),
            headers=headers,
            content=fill(body).encode() if body is not None else None,
        )
        assert answer.status_code == 200, (item["name"], answer.text[:300])
        fields = FIELD.findall("\n".join(item["event"][0]["script"]["exec"]))
        for field in fields:
            assert field in answer.json(), (item["name"], field)
        if not fields:
            assert item["name"] == "get_metrics"
