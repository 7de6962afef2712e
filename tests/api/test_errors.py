"""Every error: 401, 404, 413, 422, with a JSON detail naming what is wrong, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.services import Services
from tests.api.conftest import HEADERS, OTHER_KEY

PROTECTED = [
    ("GET", "/v1/clients"),
    ("GET", "/v1/features"),
    ("GET", "/v1/clients/{cid}"),
    ("GET", "/v1/clients/{cid}/features"),
    ("GET", "/v1/clients/{cid}/score"),
    ("GET", "/v1/clients/{cid}/explanation"),
    ("GET", "/v1/clients/{cid}/neighbors"),
    ("GET", "/v1/clients/{cid}/counterfactual"),
    ("GET", "/v1/features/{feature}/distribution"),
    ("GET", "/v1/features/scatter?x={feature}&y={feature}"),
    ("GET", "/v1/model"),
    ("GET", "/v1/model/importance"),
    ("POST", "/v1/predict"),
    ("POST", "/v1/predict/batch"),
    ("POST", "/v1/explain"),
]
BODIES = {
    "/v1/predict": {"features": {}},
    "/v1/predict/batch": {"records": []},
    "/v1/explain": {"features": {}},
}


def call(client: TestClient, method: str, path: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    body = BODIES.get(path.split("?")[0])
    return client.request(method, path, headers=headers or {}, json=body)


@pytest.mark.parametrize(("method", "template"), PROTECTED)
def test_every_v1_route_needs_a_valid_key(
    client: TestClient, services: Services, method: str, template: str
) -> None:
    path = template.format(cid=services.store.ids[0], feature=services.model.feature_names[0])
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}):
        response = call(client, method, path, headers)
        assert response.status_code == 401
        assert "API key" in response.json()["detail"]
        assert response.headers["WWW-Authenticate"] == "ApiKey"
    assert call(client, method, path, HEADERS).status_code == 200
    assert call(client, method, path, {"X-API-Key": OTHER_KEY}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/v1/clients/1",
        "/v1/clients/1/features",
        "/v1/clients/1/score",
        "/v1/clients/1/explanation",
        "/v1/clients/1/neighbors",
        "/v1/clients/1/counterfactual",
        "/v1/features/NOT_A_FEATURE/distribution",
        "/v1/features/scatter?x=NOT_A_FEATURE&y=NOT_A_FEATURE",
    ],
)
def test_unknown_client_or_feature_is_404(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HEADERS)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "not found" in detail
    assert ("1" in detail) or ("NOT_A_FEATURE" in detail)


def test_distribution_for_unknown_client_is_404(client: TestClient, services: Services) -> None:
    name = services.model.feature_names[0]
    response = client.get(f"/v1/features/{name}/distribution?client_id=1", headers=HEADERS)
    assert response.status_code == 404
    assert response.json() == {"detail": "client 1 not found"}


def test_explain_for_unknown_client_is_404(client: TestClient) -> None:
    response = client.post("/v1/explain", json={"client_id": 1}, headers=HEADERS)
    assert response.status_code == 404


def loc_names(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    return [str(part) for err in response.json()["detail"] for part in err["loc"]]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/clients?limit=0", "limit"),
        ("/v1/clients?limit=201", "limit"),
        ("/v1/clients?offset=-1", "offset"),
        ("/v1/clients?search=abc", "search"),
        ("/v1/clients/{cid}/explanation?top=0", "top"),
        ("/v1/clients/{cid}/explanation?top=51", "top"),
        ("/v1/clients/{cid}/explanation?lang=de", "lang"),
        ("/v1/clients/{cid}/neighbors?k=0", "k"),
        ("/v1/clients/{cid}/neighbors?k=101", "k"),
        ("/v1/clients/{cid}/counterfactual?lang=xx", "lang"),
        ("/v1/features/{feature}/distribution?bins=1", "bins"),
        ("/v1/features/{feature}/distribution?bins=101", "bins"),
        ("/v1/features/{feature}/distribution?by=age", "by"),
        ("/v1/features/{feature}/distribution?lang=de", "lang"),
        ("/v1/features?lang=xx", "lang"),
        ("/v1/features/scatter?x={feature}&y={feature}&n=9", "n"),
        ("/v1/features/scatter?x={feature}", "y"),
        ("/v1/model/importance?top=0", "top"),
        ("/v1/model/importance?lang=EN", "lang"),
        ("/v1/clients/abc", "client_id"),
    ],
)
def test_out_of_range_parameters_are_422_naming_the_field(
    client: TestClient, services: Services, path: str, field: str
) -> None:
    url = path.format(cid=services.store.ids[0], feature=services.model.feature_names[0])
    assert field in loc_names(client.get(url, headers=HEADERS))


@pytest.mark.parametrize(
    ("value", "why"),
    [("1.5", "string"), (True, "bool"), ([1], "list"), ({"a": 1}, "object")],
)
def test_non_numbers_are_422_naming_the_feature(
    client: TestClient, services: Services, value: object, why: str
) -> None:
    name = services.model.feature_names[0]
    response = client.post("/v1/predict", json={"features": {name: value}}, headers=HEADERS)
    assert name in loc_names(response), why


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_422(client: TestClient, services: Services, literal: str) -> None:
    name = services.model.feature_names[0]
    raw = f'{{"features": {{"{name}": {literal}}}}}'
    for path in ("/v1/predict", "/v1/explain"):
        response = client.post(
            path, content=raw, headers={**HEADERS, "Content-Type": "application/json"}
        )
        assert name in loc_names(response)


def test_unknown_features_are_422_listing_them(client: TestClient) -> None:
    body = {"features": {"ZZZ": 1.0, "AAA": None}}
    for path in ("/v1/predict", "/v1/explain"):
        response = client.post(path, json=body, headers=HEADERS)
        assert response.status_code == 422
        assert response.json() == {"detail": "unknown features: AAA, ZZZ"}
    batch = client.post("/v1/predict/batch", json={"records": [body]}, headers=HEADERS)
    assert batch.status_code == 422
    assert "AAA, ZZZ" in batch.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"features": {}, "client_id": 1}, "body"),
        ({"features": {}, "changes": {"AMT_CREDIT": 1}}, "body"),
        ({"features": {}, "top": 0}, "top"),
        ({"features": {}, "lang": "de"}, "lang"),
        ({"features": {}, "extra": 1}, "extra"),
    ],
)
def test_malformed_explain_bodies(client: TestClient, body: dict, field: str) -> None:
    assert field in loc_names(client.post("/v1/explain", json=body, headers=HEADERS))


def test_what_if_with_bad_columns_or_values(client: TestClient, services: Services) -> None:
    cid = int(services.store.ids[0])
    unknown = client.post(
        "/v1/explain",
        json={"client_id": cid, "changes": {"NOPE": 1, "SK_ID_CURR": 5}},
        headers=HEADERS,
    )
    assert unknown.status_code == 422
    assert unknown.json() == {"detail": "unknown or non-editable columns: NOPE, SK_ID_CURR"}
    wrong_type = client.post(
        "/v1/explain", json={"client_id": cid, "changes": {"AMT_CREDIT": "a lot"}}, headers=HEADERS
    )
    assert wrong_type.status_code == 422
    assert "AMT_CREDIT" in wrong_type.json()["detail"]
    nan = client.post(
        "/v1/explain",
        content=f'{{"client_id": {cid}, "changes": {{"AMT_CREDIT": NaN}}}}',
        headers={**HEADERS, "Content-Type": "application/json"},
    )
    assert nan.status_code == 422


def test_invalid_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/predict", content=b"{not json", headers={**HEADERS, "Content-Type": "application/json"}
    )
    assert response.status_code == 422


def test_batch_over_the_limit_is_413(client: TestClient, services: Services) -> None:
    limit = services.settings.api_batch_max
    body = {"records": [{"features": {}}] * (limit + 1)}
    response = client.post("/v1/predict/batch", json=body, headers=HEADERS)
    assert response.status_code == 413
    assert "records" in response.json()["detail"]
    ok = client.post(
        "/v1/predict/batch", json={"records": [{"features": {}}] * limit}, headers=HEADERS
    )
    assert ok.status_code == 200
    assert len(ok.json()["items"]) == limit


def test_body_over_one_mebibyte_is_413(client: TestClient) -> None:
    big = b'{"features": {"x": "' + b"a" * (1024 * 1024) + b'"}}'
    response = client.post(
        "/v1/predict", content=big, headers={**HEADERS, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]

    def chunks():  # no Content-Length: streamed, counted as it arrives
        for _ in range(20):
            yield b" " * 65536

    streamed = client.post(
        "/v1/predict", content=chunks(), headers={**HEADERS, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_unknown_route_is_404_json(client: TestClient) -> None:
    response = client.get("/v1/nothing", headers=HEADERS)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
