"""The Postman collection (v2.1) and its environment, generated from the OpenAPI document:
one request per operation, with a body and parameters that succeed on the demo, and a test
script (status 200 and a body field) so that Postman's runner or ``newman`` checks a deployment.

``python -m api.postman`` (``make postman``) writes docs/postman/; no network, no bundle: the
document is built from the routes alone."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
OUT = Path(__file__).resolve().parents[1] / "docs" / "postman"
COLLECTION = "credit-scoring.postman_collection.json"
ENVIRONMENT = "credit-scoring.postman_environment.json"
# A demo client id, feature names of every bundle, two features for the scatter.
VARIABLES = {
    "baseUrl": "http://127.0.0.1:8000",
    "apiKey": "demo-key",
    "clientId": "100465",
    "metricsToken": "",
}
PATH_VALUES = {"client_id": "{{clientId}}", "name": "EXT_SOURCE_2"}
QUERY_VALUES = {"x": "EXT_SOURCE_2", "y": "EXT_SOURCE_3"}
CLIENT_ID = "__CLIENT_ID__"


def openapi() -> dict[str, Any]:
    from api.app import create_app
    from api.settings import Settings

    return create_app(Settings(api_keys="postman:unused")).openapi()


def _body(op: dict[str, Any]) -> str | None:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    example = dict(content["example"])
    if "client_id" in example:
        example["client_id"] = CLIENT_ID
    text = json.dumps(example, indent=2, ensure_ascii=False)
    return text.replace(f'"{CLIENT_ID}"', "{{clientId}}")  # a number once substituted


def _checked_field(spec: dict[str, Any], op: dict[str, Any]) -> str | None:
    """The first required field of the 200 answer's schema (None: not JSON)."""
    content = op["responses"]["200"].get("content", {}).get("application/json")
    if content is None:
        return None
    name = content["schema"]["$ref"].rsplit("/", 1)[-1]
    schema = spec["components"]["schemas"][name]
    required: list[str] = schema.get("required") or list(schema["properties"])
    return required[0]


def _test_script(field: str | None) -> list[str]:
    lines = [
        'pm.test("status is 200", function () {',
        "    pm.response.to.have.status(200);",
        "});",
    ]
    if field is not None:
        lines += [
            f'pm.test("body has {field}", function () {{',
            f'    pm.expect(pm.response.json()).to.have.property("{field}");',
            "});",
        ]
    return lines


def _request(spec: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> dict[str, Any]:
    parts = [PATH_VALUES[p[1:-1]] if p.startswith("{") else p for p in path.strip("/").split("/")]
    query = [
        {"key": p["name"], "value": QUERY_VALUES[p["name"]]}
        for p in op.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    ]
    raw = "{{baseUrl}}/" + "/".join(parts)
    if query:
        raw += "?" + "&".join(f"{q['key']}={q['value']}" for q in query)
    headers = [{"key": "Accept", "value": "application/json"}]
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": headers,
        "url": {"raw": raw, "host": ["{{baseUrl}}"], "path": parts},
        "description": op.get("description") or op.get("summary", ""),
    }
    if query:
        request["url"]["query"] = query
    if path.startswith("/v1/"):
        request["auth"] = {
            "type": "apikey",
            "apikey": [
                {"key": "key", "value": "X-API-Key", "type": "string"},
                {"key": "value", "value": "{{apiKey}}", "type": "string"},
                {"key": "in", "value": "header", "type": "string"},
            ],
        }
    elif path == "/metrics":
        request["auth"] = {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{metricsToken}}", "type": "string"}],
        }
    body = _body(op)
    if body is not None:
        headers.append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {"mode": "raw", "raw": body, "options": {"raw": {"language": "json"}}}
    return {
        "name": op["operationId"],
        "request": request,
        "event": [
            {
                "listen": "test",
                "script": {
                    "type": "text/javascript",
                    "exec": _test_script(_checked_field(spec, op)),
                },
            }
        ],
    }


def collection(spec: dict[str, Any]) -> dict[str, Any]:
    folders: dict[str, list[dict[str, Any]]] = {t["name"]: [] for t in spec.get("tags", [])}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            folders.setdefault(op["tags"][0], []).append(_request(spec, path, method, op))
    descriptions = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    return {
        "info": {
            "name": spec["info"]["title"],
            "description": "Generated from the OpenAPI document by `make postman`; do not edit.",
            "version": spec["info"]["version"],
            "schema": SCHEMA,
        },
        "item": [
            {"name": tag, "description": descriptions.get(tag, ""), "item": items}
            for tag, items in folders.items()
            if items
        ],
        "variable": [{"key": k, "value": v} for k, v in VARIABLES.items()],
    }


def environment() -> dict[str, Any]:
    return {
        "name": "credit-scoring demo",
        "values": [
            {
                "key": k,
                "value": v,
                "type": "secret" if k in ("apiKey", "metricsToken") else "default",
                "enabled": True,
            }
            for k, v in VARIABLES.items()
        ],
        "_postman_variable_scope": "environment",
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def files(spec: dict[str, Any] | None = None) -> dict[str, str]:
    """File name -> content, as `make postman` writes them."""
    spec = spec or openapi()
    return {COLLECTION: render(collection(spec)), ENVIRONMENT: render(environment())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files().items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
