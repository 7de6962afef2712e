"""Concurrency caps of the expensive routes: a full class answers 503 with Retry-After at once,
cheap routes and the other classes keep serving, and the slot is free again afterwards."""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading
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


def test_costly_work_runs_below_the_workers_priority(make_client: Callable[..., Any]) -> None:
    """Admitted expensive work runs in threads the kernel schedules API_COSTLY_NICE steps lower
    (cheap routes on the event loop go first), with the request's context; the event loop's
    thread keeps the worker's priority, and the GIL switch interval is the configured one."""
    with make_client(api_costly_nice=7, api_gil_switch_ms=2.0, api_warm_cache=False) as client:
        services = services_of(client.app)
        own = os.getpriority(os.PRIO_PROCESS, 0)
        marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker")
        marker.set("request")

        def inside() -> tuple[int, str]:
            return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), marker.get()

        priority, seen = asyncio.run(services.costly.run(inside))
        assert priority == min(19, own + 7)
        assert seen == "request"
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
        assert sys.getswitchinterval() == pytest.approx(0.002)
        cid = int(services.store.ids[0])
        assert client.get(f"/v1/clients/{cid}/counterfactual", headers=HEADERS).status_code == 200
    sys.setswitchinterval(0.005)  # Python's default, for the tests that follow


def test_a_costly_thread_started_by_another_has_the_same_priority(
    make_client: Callable[..., Any],
) -> None:
    """A forest slice is submitted from a costly thread, so the pool's next thread is started
    (and inherits its nice) there: it still runs API_COSTLY_NICE steps below the worker, not
    twice that."""
    with make_client(api_costly_nice=5, api_explain_parts=2, api_warm_cache=False) as client:
        services = services_of(client.app)
        own = os.getpriority(os.PRIO_PROCESS, 0)
        pool = services.costly.executor

        def nice() -> int:
            return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        def outer() -> tuple[int, int]:
            return nice(), pool.submit(nice).result(timeout=10)

        first, started_by_it = asyncio.run(services.costly.run(outer))
        assert first == started_by_it == min(19, own + 5)


def test_an_explanation_split_over_the_costly_threads_serves_the_same_body(
    make_client: Callable[..., Any],
) -> None:
    """API_EXPLAIN_PARTS slices the forest over the costly pool: the record's and the stored
    client's on-the-fly explanations are the model's own (to float rounding), and the pool has
    a thread for every slice of a full explain gate on top of the other classes."""
    with make_client(api_explain_parts=3, api_warm_cache=False) as client:
        services = services_of(client.app)
        assert services.explain_parts == 3
        assert len(services.model.forest_slices(3)) == 3
        assert services.costly.executor._max_workers == 5  # type: ignore[attr-defined]
        model, cid = services.model, int(services.store.ids[0])
        x = services.store.feature_row(cid)
        whole = model.explain(x)
        names = model.feature_names
        record = {n: (None if v != v else float(v)) for n, v in zip(names, x, strict=True)}
        for body in ({"client_id": cid}, {"features": record}):
            got = client.post("/v1/explain", json={**body, "top": 50}, headers=HEADERS)
            assert got.status_code == 200, got.text
            answer = got.json()
            assert answer["decision"] == whole.decision
            assert answer["raw_score"] == pytest.approx(whole.raw_score, abs=1e-12)
            shap = {c["feature"]: c["shap"] for c in answer["contributions"]}
            for name, value in shap.items():
                assert value == pytest.approx(whole.shap[names.index(name)], abs=1e-12)
        stored = client.get(f"/v1/clients/{cid}/explanation?top=50", headers=HEADERS)
        assert stored.status_code == 200
        assert stored.json()["raw_score"] == pytest.approx(whole.raw_score, abs=1e-12)


def test_the_split_follows_the_forest_and_the_cpus(make_client: Callable[..., Any]) -> None:
    with make_client(api_warm_cache=False) as client:
        services = services_of(client.app)
        cpus = len(os.sched_getaffinity(0))
        assert services.explain_parts == services.model.explain_parts(cpus)
