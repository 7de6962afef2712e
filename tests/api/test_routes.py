"""Every route on success: status and body, against the core's own answers."""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.services import Services
from tests.api.conftest import HEADERS, METRICS_HEADERS


def get(client: TestClient, path: str, **params: object) -> dict:
    response = client.get(path, headers=HEADERS, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_health_and_ready(client: TestClient, services: Services) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready == {
        "status": "ready",
        "model_version": services.model.version,
        "clients": len(services.store),
        "database": "ok",
        "cache": "ready",
    }


def test_clients_paginated_and_searchable(client: TestClient, client_ids: list[int]) -> None:
    page = get(client, "/v1/clients", limit=5, offset=2)
    assert page == {"total": len(client_ids), "limit": 5, "offset": 2, "items": client_ids[2:7]}
    digits = str(client_ids[0])[-3:]
    found = get(client, "/v1/clients", search=digits, limit=200)
    expected = [i for i in client_ids if digits in str(i)]
    assert found["total"] == len(expected)
    assert found["items"] == expected[:200]
    assert get(client, "/v1/clients", search="999999999")["items"] == []
    assert get(client, "/v1/clients", offset=10**6)["items"] == []


def test_raw_record(client: TestClient, services: Services, client_ids: list[int]) -> None:
    cid = client_ids[0]
    body = get(client, f"/v1/clients/{cid}")
    assert body["client_id"] == cid
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["SK_ID_CURR"]["value"] == cid
    raw = services.store.raw.iloc[0]
    assert fields["AMT_CREDIT"]["value"] == pytest.approx(float(raw["AMT_CREDIT"]))
    assert fields["AMT_CREDIT"]["description"]
    missing = [
        name for name, value in raw.items() if isinstance(value, float) and math.isnan(value)
    ]
    assert all(fields[name]["value"] is None for name in missing)


def test_features_are_exactly_what_the_model_sees(
    client: TestClient, services: Services, client_ids: list[int]
) -> None:
    cid = client_ids[3]
    body = get(client, f"/v1/clients/{cid}/features")
    model = services.model
    expected = services.store.features_of(services.store.raw_frame(cid)).iloc[0]
    assert body["model_version"] == model.version
    assert list(body["features"]) == model.feature_names
    for name, value in body["features"].items():
        if value is None:
            assert math.isnan(expected[name])
        else:
            assert value == pytest.approx(expected[name], rel=1e-12)


def test_score_matches_the_model_and_predict(
    client: TestClient, services: Services, client_ids: list[int]
) -> None:
    model = services.model
    for cid in client_ids[:5]:
        body = get(client, f"/v1/clients/{cid}/score")
        expected = model.score(services.store.feature_row(cid))
        assert body["client_id"] == cid
        assert body["probability"] == pytest.approx(expected.probability, abs=1e-12)
        assert body["decision"] == expected.decision
        assert body["threshold"] == model.threshold
        assert body["model_version"] == model.version
        features = get(client, f"/v1/clients/{cid}/features")["features"]
        predicted = client.post("/v1/predict", json={"features": features}, headers=HEADERS)
        assert predicted.status_code == 200
        assert predicted.json()["probability"] == pytest.approx(body["probability"], abs=1e-12)
        assert predicted.json()["missing_features"] == [k for k, v in features.items() if v is None]


def test_predict_missing_features_and_batch(client: TestClient, services: Services) -> None:
    model = services.model
    body = client.post("/v1/predict", json={"features": {}}, headers=HEADERS).json()
    assert body["missing_features"] == model.feature_names
    assert 0 < body["probability"] < 1
    # nothing known: referred to a human, never an automatic grant
    assert (body["decision"], body["decision_reason"]) == ("refer", "missing_information")
    assert body["missing_key_features"] == list(model.policy.features)
    rows = [
        dict(zip(model.feature_names, r.tolist(), strict=True)) for r in services.store.features[:7]
    ]
    records = [
        {"features": {k: (None if math.isnan(v) else v) for k, v in r.items()}} for r in rows
    ]
    batch = client.post("/v1/predict/batch", json={"records": records}, headers=HEADERS)
    assert batch.status_code == 200
    items = batch.json()["items"]
    assert batch.json()["model_version"] == model.version
    expected = model.predict_proba(services.store.features[:7])
    assert [i["probability"] for i in items] == pytest.approx(expected.tolist(), abs=1e-12)
    assert (
        client.post("/v1/predict/batch", json={"records": []}, headers=HEADERS).json()["items"]
        == []
    )


def additive(body: dict) -> None:
    total = (
        body["base_value"] + sum(c["shap"] for c in body["contributions"]) + body["rest"]["shap"]
    )
    assert total == pytest.approx(body["raw_score"], abs=1e-9)
    assert body["probability"] == pytest.approx(1 / (1 + math.exp(-body["raw_score"])), abs=1e-12)
    assert body["decision"] == ("refuse" if body["probability"] >= body["threshold"] else "grant")
    magnitudes = [abs(c["shap"]) for c in body["contributions"]]
    assert magnitudes == sorted(magnitudes, reverse=True)


def test_explanation_is_additive_and_matches_the_model(
    client: TestClient, services: Services, client_ids: list[int]
) -> None:
    model = services.model
    for cid in client_ids[:5]:
        body = get(client, f"/v1/clients/{cid}/explanation", top=5)
        additive(body)
        expected = model.explain(services.store.feature_row(cid))
        assert body["raw_score"] == pytest.approx(expected.raw_score, abs=1e-9)
        assert body["base_value"] == pytest.approx(expected.base_value, abs=1e-12)
        assert len(body["contributions"]) == 5
        assert body["rest"]["count"] == len(model.feature_names) - 5
        assert body["client_id"] == cid
        assert set(body["reasons"]) == {"against", "for"}
        score = get(client, f"/v1/clients/{cid}/score")
        assert body["probability"] == pytest.approx(score["probability"], abs=1e-9)


def test_explanation_in_french(client: TestClient, client_ids: list[int]) -> None:
    en = get(client, f"/v1/clients/{client_ids[1]}/explanation", lang="en", top=50)
    fr = get(client, f"/v1/clients/{client_ids[1]}/explanation", lang="fr", top=50)
    assert [c["shap"] for c in en["contributions"]] == [c["shap"] for c in fr["contributions"]]
    assert en["reasons"] != fr["reasons"]


def test_on_the_fly_explanation_equals_the_cached_one(
    make_client: object, client: TestClient, client_ids: list[int]
) -> None:
    cid = client_ids[2]
    cached = get(client, f"/v1/clients/{cid}/explanation", top=50)
    with make_client(api_warm_cache=False) as cold:  # type: ignore[operator]
        assert cold.get("/ready").json()["cache"] == "warming"
        fresh = get(cold, f"/v1/clients/{cid}/explanation", top=50)
        score = get(cold, f"/v1/clients/{cid}/score")
    additive(fresh)
    assert fresh["raw_score"] == pytest.approx(cached["raw_score"], abs=1e-9)
    assert [c["feature"] for c in fresh["contributions"][:10]] == [
        c["feature"] for c in cached["contributions"][:10]
    ]
    assert score["probability"] == pytest.approx(cached["probability"], abs=1e-9)


def test_explain_features_and_what_if(
    client: TestClient, services: Services, client_ids: list[int]
) -> None:
    model = services.model
    cid = client_ids[4]
    features = get(client, f"/v1/clients/{cid}/features")["features"]
    body = client.post(
        "/v1/explain", json={"features": features, "top": 3, "lang": "fr"}, headers=HEADERS
    ).json()
    additive(body)
    assert body["client_id"] is None
    assert body["raw_score"] == pytest.approx(
        get(client, f"/v1/clients/{cid}/explanation")["raw_score"], abs=1e-9
    )

    raw = services.store.raw_frame(cid)
    changes = {"AMT_CREDIT": float(raw.at[0, "AMT_CREDIT"]) * 3, "FLAG_OWN_CAR": "N"}
    what_if = client.post(
        "/v1/explain", json={"client_id": cid, "changes": changes}, headers=HEADERS
    ).json()
    additive(what_if)
    edited = services.store.raw_frame(cid, changes)
    expected = model.explain(services.store.features_of(edited).to_numpy(dtype=np.float64)[0])
    assert what_if["client_id"] == cid
    assert what_if["raw_score"] == pytest.approx(expected.raw_score, abs=1e-9)
    unchanged = client.post("/v1/explain", json={"client_id": cid}, headers=HEADERS).json()
    assert unchanged["raw_score"] == pytest.approx(
        get(client, f"/v1/clients/{cid}/explanation")["raw_score"], abs=1e-9
    )


def test_distribution(client: TestClient, services: Services, client_ids: list[int]) -> None:
    model = services.model
    name = next(iter(model.importance))
    cid = client_ids[0]
    body = get(client, f"/v1/features/{name}/distribution", bins=7, client_id=cid)
    assert body["feature"] == name
    assert body["by"] == "target"
    assert len(body["bin_edges"]) == 8
    assert len(body["counts_0"]) == len(body["counts_1"]) == 7
    reference = model.reference
    assert sum(body["counts_0"]) + body["missing_0"] == int((reference["TARGET"] == 0).sum())
    assert sum(body["counts_1"]) + body["missing_1"] == int((reference["TARGET"] == 1).sum())
    assert body["labels"] == ["repaid", "payment difficulties"]
    assert body["client_value"] == pytest.approx(
        get(client, f"/v1/clients/{cid}/features")["features"][name]
    )
    by_prediction = get(client, f"/v1/features/{name}/distribution", by="prediction")
    assert len(by_prediction["bin_edges"]) == 21
    assert by_prediction["labels"] == ["granted", "refused"]
    assert by_prediction["client_value"] is None


def test_distribution_in_french(client: TestClient, services: Services) -> None:
    name = "EXT_SOURCE_MEAN"
    assert name in services.model.feature_names
    english = get(client, f"/v1/features/{name}/distribution")
    french = get(client, f"/v1/features/{name}/distribution", lang="fr")
    assert english["label"] == "Average external score"
    assert french["label"] == "Score externe moyen"
    assert french["labels"] == ["remboursé", "difficultés de paiement"]
    assert french["counts_0"] == english["counts_0"]
    assert french["counts_1"] == english["counts_1"]
    by_prediction = get(client, f"/v1/features/{name}/distribution", by="prediction", lang="fr")
    assert by_prediction["labels"] == ["accordé", "refusé"]


def test_scatter_is_deterministic(client: TestClient, services: Services) -> None:
    x, y = list(services.model.importance)[:2]
    first = get(client, "/v1/features/scatter", x=x, y=y, n=40)
    assert first == get(client, "/v1/features/scatter", x=x, y=y, n=40)
    points = first["points"]
    assert (
        len(points["x"])
        == len(points["y"])
        == len(points["target"])
        == len(points["probability"])
        == 40
    )
    assert set(points["target"]) <= {0, 1}


def test_neighbors(client: TestClient, services: Services, client_ids: list[int]) -> None:
    cid = client_ids[0]
    body = get(client, f"/v1/clients/{cid}/neighbors", k=7)
    assert body["client_id"] == cid
    assert body["k"] == 7
    assert len(body["items"]) == 7
    distances = [i["distance"] for i in body["items"]]
    assert distances == sorted(distances)
    assert body["default_rate"] == pytest.approx(np.mean([i["target"] for i in body["items"]]))
    assert body["features"] == services.neighbors.features
    reference_ids = set(services.model.reference.index.tolist())
    assert all(i["client_id"] in reference_ids for i in body["items"])


def test_counterfactual(client: TestClient, services: Services, client_ids: list[int]) -> None:
    probabilities = services.model.predict_proba(services.store.features)
    refused = [
        cid
        for cid, p in zip(client_ids, probabilities, strict=True)
        if p >= services.model.threshold
    ]
    granted = [
        cid
        for cid, p in zip(client_ids, probabilities, strict=True)
        if p < services.model.threshold
    ]
    assert refused
    assert granted
    body = get(client, f"/v1/clients/{refused[0]}/counterfactual")
    assert body["decision_before"] == "refuse"
    assert body["probability_before"] == pytest.approx(
        probabilities[client_ids.index(refused[0])], abs=1e-9
    )
    if body["found"]:
        assert body["decision_after"] == "grant"
        assert body["probability_after"] < services.model.threshold
        # up to three actionable changes, plus the annuity that follows a new amount
        assert 1 <= len([c for c in body["changes"] if not c["derived"]]) <= 3
        assert all(c["label"] for c in body["changes"])
    else:
        assert body["decision_after"] is None
    assert body["message"]
    fr = get(client, f"/v1/clients/{refused[0]}/counterfactual", lang="fr")
    assert fr["message"] != body["message"]
    ok = get(client, f"/v1/clients/{granted[0]}/counterfactual")
    assert ok["found"] is True
    assert ok["changes"] == []
    assert ok["decision_after"] == "grant"


def test_model_card_and_importance(client: TestClient, services: Services) -> None:
    card = get(client, "/v1/model")
    meta = services.model.metadata
    assert card["version"] == services.model.version
    assert card["threshold"] == services.model.threshold
    assert card["refer"] == meta.refer.model_dump()
    assert card["refer"]["max_missing"] < card["refer"]["top_k"] == len(card["refer"]["features"])
    assert card["cost"] == meta.cost.model_dump()
    contract = {"auc", "auc_std", "business_cost", "business_cost_accept_all", "recall"}
    assert set(card["metrics"]) == contract | {"precision", "brier"}
    assert all(card["metrics"][k] == getattr(meta.metrics, k) for k in card["metrics"])
    assert card["data"]["features"] == len(services.model.feature_names)
    assert "lightgbm" in card["library_versions"]
    items = get(client, "/v1/model/importance")["items"]
    assert [i["feature"] for i in items] == list(services.model.importance)
    values = [i["importance"] for i in items]
    assert values == sorted(values, reverse=True)
    assert len(get(client, "/v1/model/importance", top=3)["items"]) == 3


def test_importance_in_french(client: TestClient, services: Services) -> None:
    model = services.model
    english = {i["feature"]: i["label"] for i in get(client, "/v1/model/importance")["items"]}
    french = {
        i["feature"]: i["label"] for i in get(client, "/v1/model/importance", lang="fr")["items"]
    }
    assert list(french) == list(english) == list(model.importance)
    assert english == {name: model.label(name, "en") for name in english}
    assert french == {name: model.label(name, "fr") for name in french}
    assert english["EXT_SOURCE_MEAN"] == "Average external score"
    assert french["EXT_SOURCE_MEAN"] == "Score externe moyen"


def test_features_catalogue(client: TestClient, services: Services) -> None:
    items = get(client, "/v1/features")["items"]
    assert {i["name"] for i in items} == set(services.model.feature_names)
    values = [i["importance"] for i in items]
    assert values == sorted(values, reverse=True)
    first = items[0]
    assert first["label"]
    assert first["sources"]
    assert isinstance(first["actionable"], bool)


def test_features_catalogue_in_french(client: TestClient, services: Services) -> None:
    english = get(client, "/v1/features")["items"]
    french = get(client, "/v1/features", lang="fr")["items"]
    assert [i["name"] for i in french] == [i["name"] for i in english]
    labels = {i["name"]: i["label"] for i in french}
    assert labels["EXT_SOURCE_MEAN"] == "Score externe moyen"
    assert {i["name"]: i["label"] for i in english}["EXT_SOURCE_MEAN"] == "Average external score"
    assert labels == {name: services.model.label(name, "fr") for name in labels}
    # only the labels and descriptions change with the language
    words = ("label", "description")
    strip = [{k: v for k, v in i.items() if k not in words} for i in english]
    assert [{k: v for k, v in i.items() if k not in words} for i in french] == strip
    english_text = {i["name"]: i["description"] for i in english}
    french_text = {i["name"]: i["description"] for i in french}
    assert english_text["AMT_CREDIT"] == "Credit amount of the loan"
    assert french_text["AMT_CREDIT"] == "Montant du crédit"
    assert french_text["EXT_SOURCE_MEAN"].startswith("Calculé à partir de EXT_SOURCE_1")
    assert all(french_text[n] for n, text in english_text.items() if text), "no French gap"
    assert all(french_text[n] != text for n, text in english_text.items() if text)


def test_metrics_are_exposed(client: TestClient, client_ids: list[int]) -> None:
    get(client, f"/v1/clients/{client_ids[0]}/score")
    text = client.get("/metrics", headers=METRICS_HEADERS).text
    assert (
        'api_requests_total{method="GET",route="/v1/clients/{client_id}/score",status="200"}'
        in text
    )
    assert "api_request_seconds_bucket" in text
    assert str(client_ids[0]) not in text


# --- plausibility: absurd values are refused (422 naming field and range), never scored ---


@pytest.mark.parametrize(
    ("features", "field", "valid"),
    [
        ({"AMT_INCOME_TOTAL": -1000.0}, "AMT_INCOME_TOTAL", "[1, 1000000000]"),
        ({"AMT_CREDIT": 1e308}, "AMT_CREDIT", "[1, 100000000]"),
        ({"AGE_YEARS": 7.0}, "AGE_YEARS", "[18, 100]"),
        ({"EXT_SOURCE_3": -0.2}, "EXT_SOURCE_3", "[0, 1]"),
    ],
)
def test_absurd_posted_values_are_422_naming_the_field(
    client: TestClient, features: dict[str, float], field: str, valid: str
) -> None:
    for path, body in [
        ("/v1/predict", {"features": features}),
        ("/v1/predict/batch", {"records": [{"features": {}}, {"features": features}]}),
        ("/v1/explain", {"features": features}),
    ]:
        response = client.post(path, json=body, headers=HEADERS)
        assert response.status_code == 422, path
        detail = response.json()["detail"]
        assert detail.startswith(f"{field}: "), (path, detail)
        assert valid in detail, (path, detail)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"AMT_INCOME_TOTAL": -50000}, "AMT_INCOME_TOTAL"),
        ({"DAYS_BIRTH": 400}, "DAYS_BIRTH"),  # born in the future
        ({"AMT_CREDIT": 1e308}, "AMT_CREDIT"),
    ],
)
def test_absurd_what_if_changes_are_422(
    client: TestClient, client_ids: list[int], changes: dict[str, float], field: str
) -> None:
    body = {"client_id": client_ids[0], "changes": changes}
    response = client.post("/v1/explain", json=body, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}: ")


def test_ranges_are_served_for_the_what_if_editor(
    client: TestClient, client_ids: list[int]
) -> None:
    fields = {f["name"]: f for f in get(client, f"/v1/clients/{client_ids[0]}")["fields"]}
    assert (fields["AMT_INCOME_TOTAL"]["valid_min"], fields["AMT_INCOME_TOTAL"]["valid_max"]) == (
        1,
        1e9,
    )
    assert fields["NAME_CONTRACT_TYPE"]["valid_min"] is None  # text: no numeric range
    features = {f["name"]: f for f in get(client, "/v1/features")["items"]}
    assert (features["AGE_YEARS"]["valid_min"], features["AGE_YEARS"]["valid_max"]) == (18, 100)


def test_a_referral_is_audited_as_refer_and_an_absurd_record_not_at_all(
    make_client: Callable[..., Any], tmp_path: Path
) -> None:
    with make_client(database_url=f"sqlite:///{tmp_path}/refer.db") as fresh:
        assert fresh.post("/v1/predict", json={"features": {}}, headers=HEADERS).status_code == 200
        absurd = {"features": {"AMT_INCOME_TOTAL": -1.0}}
        assert fresh.post("/v1/predict", json=absurd, headers=HEADERS).status_code == 422
    with sqlite3.connect(tmp_path / "refer.db") as db:
        rows = db.execute("SELECT route, decision FROM decision_audit").fetchall()
    assert rows == [("/v1/predict", "refer")]


def test_stored_explanation_bodies_are_cached_and_follow_the_batch_cache(
    client: TestClient, services: Services, client_ids: list[int]
) -> None:
    store = services.store
    cid = client_ids[0]
    path = f"/v1/clients/{cid}/explanation?top=4&lang=fr"
    first = client.get(path, headers=HEADERS).json()
    key = (services.model.version, cid, 4, "fr", False)
    assert key in store._bodies
    assert client.get(path, headers=HEADERS).json() == first
    batch = store.batch
    assert batch is not None
    row = store.cached_row(cid)
    assert row is not None
    changed = dataclasses.replace(batch, shap=batch.shap.copy())
    changed.shap[row] = 0.0  # new SHAP values, as a new bundle's batch cache would bring
    store.attach(changed)
    try:
        assert key not in store._bodies
        after = client.get(path, headers=HEADERS).json()
        assert after["raw_score"] == pytest.approx(float(batch.base_value))
        assert after != first
    finally:
        store.attach(batch)
    assert client.get(path, headers=HEADERS).json() == first
