"""GET /v1/model/drift: insufficient data on a fresh app, a summary once enough applications were
scored, drift when a shifted batch fills the window; no client id in the window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import HEADERS, services_of
from tests.api.test_batch import full_records

SHIFTED = {"AMT_INCOME_TOTAL": 1.6, "EXT_SOURCE_2": 0.6}
WINDOW = {"api_drift_refresh_s": 0.0, "api_batch_max": 600}  # min_rows: the default, 500


def drift(client: Any) -> Any:
    """GET /v1/model/drift once the drift rows queued so far are written (the audit writer
    writes them within a second, after the decisions' audit rows)."""
    assert services_of(client.app).audit.flush_drift()
    return client.get("/v1/model/drift", headers=HEADERS)


def _shifted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for record in records:
        features = dict(record["features"])
        for name, factor in SHIFTED.items():
            if features.get(name) is not None:
                features[name] = features[name] * factor
        out.append({"features": features})
    return out


def test_insufficient_data_then_a_summary_of_the_clients_scored(
    make_client: Callable[..., Any],
) -> None:
    with make_client(**WINDOW) as client:
        empty = drift(client)
        assert empty.status_code == 200
        body = empty.json()
        assert body["status"] == "insufficient_data"
        assert body["dataset_drift"] is None
        assert body["features"] == []
        assert body["window"]["rows"] == 0
        assert body["window"]["min_rows"] == 500
        assert "drift needs 500" in body["message"]

        services = services_of(client.app)  # type: ignore[arg-type]
        ids = [int(i) for i in services.store.ids[:10]]
        for client_id in ids:  # one at a time, as the dashboard asks
            assert client.get(f"/v1/clients/{client_id}/score", headers=HEADERS).status_code == 200
        records = full_records(services, len(services.store))[10:500]
        batch = client.post("/v1/predict/batch", json={"records": records}, headers=HEADERS)
        assert batch.status_code == 200

        summary = drift(client).json()
        assert summary["status"] == "ok"
        assert summary["window"]["rows"] == 500
        assert summary["window"]["since"] <= summary["window"]["until"]
        assert summary["current_rows"] == 500
        assert summary["dataset_drift"] is False
        assert not set(SHIFTED) & set(summary["drifted"])
        assert summary["reference_rows"] == len(services.model.reference)
        income = next(f for f in summary["features"] if f["feature"] == "AMT_INCOME_TOTAL")
        assert income["test"] == "wasserstein"
        assert income["drifted"] is False
        # what the window holds: feature values in the model's order, nothing else
        assert services.drift is not None
        values, _ = services.drift.rows.snapshot(0.0)
        assert values.shape == (500, len(services.model.feature_names))


def test_a_shifted_batch_drives_drift(make_client: Callable[..., Any]) -> None:
    with make_client(**WINDOW, api_drift_window_rows=500) as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        records = full_records(services, len(services.store))
        client.post("/v1/predict/batch", json={"records": records[:500]}, headers=HEADERS)
        before = drift(client).json()
        assert before["dataset_drift"] is False
        assert not set(SHIFTED) & set(before["drifted"])
        shifted = _shifted(records[-500:])  # fills the 500-row window
        answer = client.post("/v1/predict/batch", json={"records": shifted}, headers=HEADERS)
        assert answer.status_code == 200
        after = drift(client).json()
        assert after["status"] == "ok"
        assert set(SHIFTED) <= set(after["drifted"])
        income = next(f for f in after["features"] if f["feature"] == "AMT_INCOME_TOTAL")
        assert income["drifted"] is True
        assert income["distance"] >= income["threshold"] == 0.1
        assert after["share_drifted"] == pytest.approx(
            len(after["drifted"]) / after["tested"], rel=1e-5
        )


def test_what_if_simulations_are_not_counted(make_client: Callable[..., Any]) -> None:
    with make_client(**WINDOW) as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        client_id = int(services.store.ids[0])
        body = {"client_id": client_id, "changes": {"AMT_CREDIT": 250000.0}}
        assert client.post("/v1/explain", json=body, headers=HEADERS).status_code == 200
        assert drift(client).json()["window"]["rows"] == 0
        explained = client.get(f"/v1/clients/{client_id}/explanation", headers=HEADERS)
        assert explained.status_code == 200
        assert drift(client).json()["window"]["rows"] == 1


def test_a_stored_client_reopened_counts_once(make_client: Callable[..., Any]) -> None:
    with make_client(**WINDOW) as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        first, second = (int(i) for i in services.store.ids[:2])
        for path in ("score", "explanation", "explanation?lang=fr&top=5", "score"):
            assert client.get(f"/v1/clients/{first}/{path}", headers=HEADERS).status_code == 200
        assert drift(client).json()["window"]["rows"] == 1
        assert client.get(f"/v1/clients/{second}/score", headers=HEADERS).status_code == 200
        assert drift(client).json()["window"]["rows"] == 2
        posted = {"features": services.store.feature_dict(first)}
        for _ in range(2):  # a posted application is a new one each time
            assert client.post("/v1/predict", json=posted, headers=HEADERS).status_code == 200
        assert drift(client).json()["window"]["rows"] == 4


def test_drift_needs_a_key(client: Any) -> None:
    assert client.get("/v1/model/drift").status_code == 401


def test_a_bundle_whose_reference_cannot_serve_drift_says_so(
    make_client: Callable[..., Any], monkeypatch: Any
) -> None:
    from api import services as services_module
    from scoring.errors import BundleError

    def older(*_: Any) -> Any:
        raise BundleError("drift needs a bundle written by this version")

    monkeypatch.setattr(services_module, "served_window", older)
    with make_client() as client:
        body = drift(client).json()
        assert body["status"] == "unavailable"
        assert "drift needs a bundle written by this version" in body["message"]
        # scoring still works, and feeds nothing
        client_id = int(services_of(client.app).store.ids[0])  # type: ignore[arg-type]
        assert client.get(f"/v1/clients/{client_id}/score", headers=HEADERS).status_code == 200
        assert body["share_drifted"] is None
