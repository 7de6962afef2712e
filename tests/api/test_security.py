"""Security headers on every answer, HSTS behind HTTPS, CORS for the configured origins only,
documentation served from this server alone, /metrics behind its token, and a body that is not
UTF-8 refused with the contract's 422."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import ConfigError, create_app
from api.settings import Settings
from tests.api.conftest import HEADERS, METRICS_HEADERS

ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_secured(response: Any) -> None:
    for name, value in ALWAYS.items():
        assert response.headers[name] == value, (name, response.request.url)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "server" not in response.headers


def answers(client: TestClient, cid: int) -> list[tuple[str, str, dict[str, Any]]]:
    """One request for each kind of answer: 200, 401, 404, 405, 413, 422, 429 is elsewhere."""
    big = {"features": {"x": "y" * 2_000_000}}
    return [
        ("GET", "/health", {}),
        ("GET", "/ready", {}),
        ("GET", f"/v1/clients/{cid}/score", {"headers": HEADERS}),
        ("GET", "/v1/model", {}),  # 401
        ("GET", "/v1/clients/1", {"headers": HEADERS}),  # 404
        ("GET", "/nowhere", {}),  # 404 unmatched
        ("DELETE", "/v1/model", {"headers": HEADERS}),  # 405
        ("POST", "/v1/predict", {"headers": HEADERS, "json": big}),  # 413
        ("POST", "/v1/predict", {"headers": HEADERS, "content": b"{"}),  # 422
        ("GET", "/metrics", {}),  # 401
        ("GET", "/docs", {}),
        ("GET", "/openapi.json", {}),
    ]


def test_every_answer_carries_the_security_headers(
    client: TestClient, client_ids: list[int]
) -> None:
    statuses = []
    for method, path, options in answers(client, client_ids[0]):
        response = client.request(method, path, **options)
        statuses.append(response.status_code)
        assert_secured(response)
        assert "strict-transport-security" not in response.headers  # plain HTTP here
    assert statuses == [200, 200, 200, 401, 404, 404, 405, 413, 422, 401, 200, 200]


def test_client_data_is_never_cached(client: TestClient, client_ids: list[int]) -> None:
    response = client.get(f"/v1/clients/{client_ids[0]}", headers=HEADERS)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_an_unexpected_error_carries_them_too(make_client: Callable[..., Any]) -> None:
    with make_client(api_warm_cache=False) as client:

        def boom() -> None:
            raise RuntimeError("unexpected")

        client.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert_secured(response)


@pytest.mark.parametrize("proto", ["https", "https,http"])
def test_hsts_behind_https(client: TestClient, proto: str) -> None:
    response = client.get("/health", headers={"X-Forwarded-Proto": proto})
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    plain = client.get("/health", headers={"X-Forwarded-Proto": "http"})
    assert "strict-transport-security" not in plain.headers


def test_no_cross_origin_call_by_default(client: TestClient) -> None:
    response = client.get("/v1/model", headers={**HEADERS, "Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/v1/model",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_only_for_the_configured_origin(make_client: Callable[..., Any]) -> None:
    dashboard = "https://dashboard.example"
    with make_client(api_cors_origins=f"{dashboard}/", api_warm_cache=False) as client:
        preflight = client.options(
            "/v1/model",
            headers={
                "Origin": dashboard,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "X-API-Key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == dashboard
        assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
        assert_secured(preflight)
        allowed = client.get("/v1/model", headers={**HEADERS, "Origin": dashboard})
        assert allowed.headers["access-control-allow-origin"] == dashboard
        other = client.options(
            "/v1/model",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("spec", ["*", "dashboard.example", "https://d.example/path"])
def test_a_malformed_cors_origin_stops_start_up(base_settings: Settings, spec: str) -> None:
    app = create_app(base_settings.model_copy(update={"api_cors_origins": spec}))
    with pytest.raises(ConfigError, match="API_CORS_ORIGINS"), TestClient(app):
        pass


class Links(HTMLParser):
    """Every URL an HTML page makes the browser load, and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href", "spec-url", "data-openapi-url"):
            if found.get(name):
                self.urls.append(str(found[name]))
        self._in_script = tag == "script" and "src" not in found

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_another_host(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    links = Links()
    links.feed(response.text)
    assert links.urls, "the page loads its scripts"
    assert all(url.startswith("/") and not url.startswith("//") for url in links.urls), links.urls
    assert links.inline_scripts == 0
    assert "http://" not in response.text
    assert "https://" not in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert not re.search(r"https?:|\*", policy)
    for url in links.urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url


def test_swagger_starts_from_our_script_without_the_online_validator(client: TestClient) -> None:
    script = client.get("/docs-assets/swagger-init.js")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "validatorUrl: null" in script.text
    assert "SwaggerUIBundle(" in script.text


def test_metrics_need_their_own_token(client: TestClient) -> None:
    assert client.get("/metrics", headers=METRICS_HEADERS).status_code == 200
    for headers in ({}, HEADERS, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json() == {
            "detail": "missing or wrong metrics token (header Authorization: Bearer)"
        }
        assert refused.headers["www-authenticate"] == "Bearer"


def test_metrics_are_off_without_a_token(make_client: Callable[..., Any]) -> None:
    with make_client(metrics_token="", api_warm_cache=False) as client:
        response = client.get("/metrics", headers=METRICS_HEADERS)
    assert response.status_code == 404
    assert response.json() == {"detail": "metrics are off: METRICS_TOKEN is not set"}


@pytest.mark.parametrize(
    "body",
    [b'{"features": {"AMT_CREDIT": "\xff"}}', b"\x80\x81{}", b'{"features": {"\xc3\x28": 1}}'],
)
@pytest.mark.parametrize("path", ["/v1/predict", "/v1/predict/batch", "/v1/explain"])
def test_a_body_that_is_not_utf8_is_the_contracts_422(
    client: TestClient, body: bytes, path: str
) -> None:
    response = client.post(
        path, content=body, headers={**HEADERS, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body"], "msg": "the body is not UTF-8 encoded JSON", "type": "json_invalid"}
        ]
    }


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/predict/batch", "/v1/explain"])
def test_body_errors_are_in_the_openapi_of_the_routes_that_take_a_body(
    client: TestClient, path: str
) -> None:
    spec = client.get("/openapi.json").json()
    responses = spec["paths"][path]["post"]["responses"]
    assert "UTF-8" in responses["422"]["description"]
    assert responses["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Invalid"
    }
    limit = "API_MAX_BATCH_BODY_BYTES" if path.endswith("/batch") else "API_MAX_BODY_BYTES"
    assert limit in responses["413"]["description"]


def test_an_unknown_query_parameter_is_422_naming_it(
    client: TestClient, client_ids: list[int]
) -> None:
    path = f"/v1/clients/{client_ids[0]}/explanation"
    assert client.get(f"{path}?lang=fr&top=3", headers=HEADERS).status_code == 200
    response = client.get(f"{path}?langue=fr&top=3&=x", headers=HEADERS)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["query", "langue"],
                "msg": "unknown query parameter",
                "type": "extra_forbidden",
            },
            {"loc": ["query", ""], "msg": "unknown query parameter", "type": "extra_forbidden"},
        ]
    }
    # Routes without query parameters (health probes) ignore what they are sent.
    assert client.get("/health?probe=1").status_code == 200


def test_an_unresolved_key_vault_reference_is_no_metrics_token(
    make_client: Callable[..., Any], api_records: list[logging.LogRecord]
) -> None:
    """App Service leaves the reference's text when the secret is missing: anyone who read the
    template knows it, so it must not open /metrics."""
    reference = "@Microsoft.KeyVault(VaultName=pad-kv;SecretName=metrics-token)"
    with make_client(metrics_token=reference, api_warm_cache=False) as client:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {reference}"})
    assert response.status_code == 404
    assert [r.getMessage() for r in api_records if r.name == "api.app"] == [
        "METRICS_TOKEN is an unresolved Key Vault reference: /metrics stays off"
    ]


def test_no_route_takes_a_url_or_a_file_path(client: TestClient) -> None:
    """Nothing the API fetches or opens comes from a request (no server-side request forgery,
    no path traversal): no parameter or body field is a URL, a host or a path."""
    spec = client.get("/openapi.json").json()
    names: list[str] = []
    for operation in (op for ops in spec["paths"].values() for op in ops.values()):
        names += [p["name"].lower() for p in operation.get("parameters", [])]
    for schema in spec["components"]["schemas"].values():
        names += [n.lower() for n in schema.get("properties", {})]
        assert schema.get("format") not in ("uri", "url")
    suspicious = {"url", "uri", "host", "path", "file", "filename", "callback", "webhook"}
    assert not suspicious & set(names)
