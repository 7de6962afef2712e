"""Concurrency caps of the expensive routes: a full class answers 503 with Retry-After at once,
cheap routes and the other classes keep serving, and the slot is free again afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import HTTPException

from api.costly import Gate
from tests.api.conftest import HEADERS, services_of


def test_a_full_gate_refuses_at_once_and_frees_its_slots() -> None:
    gate = Gate("counterfactual", 2)
    with gate.slot(), gate.slot():
        with pytest.raises(HTTPException) as refused, gate.slot():
            pass
        assert refused.value.status_code == 503
        assert refused.value.headers == {"Retry-After": "1"}
        assert "counterfactual" in refused.value.detail
    assert gate.held == 0
    with gate.slot():
        assert gate.held == 1


def test_a_full_class_answers_503_while_cheap_routes_serve(
    make_client: Callable[..., Any],
) -> None:
    with make_client(api_costly_concurrency=1) as client:
        services = services_of(client.app)
        cid = int(services.store.ids[0])
        counterfactual = f"/v1/clients/{cid}/counterfactual"
        with services.gates["counterfactual"].slot(), services.gates["batch"].slot():
            busy = client.get(counterfactual, headers=HEADERS)
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "1"
            batch = client.post(
                "/v1/predict/batch", json={"records": [{"features": {}}]}, headers=HEADERS
            )
            assert batch.status_code == 503
            assert client.get(f"/v1/clients/{cid}/score", headers=HEADERS).status_code == 200
            explain = client.post("/v1/explain", json={"client_id": cid}, headers=HEADERS)
            assert explain.status_code == 200, explain.text
        assert client.get(counterfactual, headers=HEADERS).status_code == 200
        assert all(gate.held == 0 for gate in services.gates.values())
