"""The audit database fails under a running API: a PostgreSQL of the test's own (never the
machine's) is crashed (SIGKILL of the postmaster and its backends) and started again on the same
data folder, or stalled (SIGSTOP: connections accepted, nothing answered) and resumed.

Audited routes answer 503 with Retry-After fast instead of hanging, /health and /ready say 503
(App Service's health check takes an instance out of rotation on it), the API heals without a
restart, and every decision answered 200 has exactly one audit row (request ids are unique)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.api.conftest import HEADERS, services_of
from tests.services import PostgresServer, own_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# Small bounds, so that a fault shows within a second or two: the audit wait is what bounds a
# request on a stalled server (nothing answers, so no server-side timeout can fire).
FAULT_SETTINGS: dict[str, Any] = {
    "audit_wait_s": 0.5,
    "db_connect_timeout_s": 1,
    "db_pool_timeout_s": 0.5,
    "db_statement_timeout_ms": 500,
    "db_lock_timeout_ms": 250,
    "ready_probe_timeout_s": 0.5,
    "ready_cache_s": 0,
}
# "Fails fast rather than hangs": a faulty request must answer within this. The bounds above
# give ~0.5-1 s; 5 s leaves room for a loaded 2-core machine, while a hang would last as long as
# the fault (the test keeps the server stalled until every such request has answered, so an
# unbounded wait would never end: the test would fail on this bound, not hang).
FAST_S = 5.0
RECOVERY_S = 60.0  # a deadline, never reached when the API heals


class Calls:
    """Requests sent with unique request ids, and what each got."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.cid = int(services_of(client.app).store.ids[0])  # type: ignore[arg-type]
        self.statuses: dict[str, int] = {}

    def send(self, method: str, path: str, body: Any = None) -> tuple[Response, float]:
        request_id = uuid.uuid4().hex
        began = time.monotonic()
        response = self.client.request(
            method, path, json=body, headers={**HEADERS, "X-Request-ID": request_id}
        )
        elapsed = time.monotonic() - began
        self.statuses[request_id] = response.status_code
        return response, elapsed

    def score(self) -> tuple[Response, float]:
        return self.send("GET", f"/v1/clients/{self.cid}/score")

    def audited(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", f"/v1/clients/{self.cid}/score", None),
            ("POST", "/v1/predict", {"features": {}}),
            ("GET", f"/v1/clients/{self.cid}/explanation", None),
            ("POST", "/v1/explain", {"client_id": self.cid}),
            ("GET", f"/v1/clients/{self.cid}/counterfactual", None),
        ]

    def served(self) -> set[str]:
        return {rid for rid, status in self.statuses.items() if status == 200}


@pytest.fixture
def database() -> Iterator[PostgresServer]:
    with own_postgres() as server:
        yield server


def wait_until_healed(calls: Calls) -> None:
    deadline = time.monotonic() + RECOVERY_S
    while calls.client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "/ready never went back to 200"
        time.sleep(0.2)
    while calls.score()[0].status_code != 200:
        assert time.monotonic() < deadline, "/score never went back to 200"
        time.sleep(0.2)


def assert_refused_fast(calls: Calls, response: Response, elapsed: float, what: str) -> None:
    assert response.status_code == 503, (what, response.text)
    assert int(response.headers["retry-after"]) >= 1, what
    assert response.json()["detail"].startswith("decision audit log"), response.text
    assert elapsed < FAST_S, f"{what} took {elapsed:.1f} s"


def assert_one_row_per_decision(calls: Calls) -> None:
    log = services_of(calls.client.app).audit  # type: ignore[arg-type]
    per_request = Counter(row["request_id"] for row in log.rows())
    served = calls.served()
    assert served, "no decision was served"
    missing = [rid for rid in served if per_request[rid] != 1]
    assert not missing, f"{len(missing)} decisions served without exactly one audit row"
    # A refused request may have left a row (committed once the server came back, after the
    # request gave up): harmless. Never more than one per request.
    assert max(per_request.values()) == 1


def assert_probes_refuse_fast(client: Any, detail: str) -> None:
    """/health and /ready answer 503 with Retry-After, naming the database, within FAST_S."""
    for probe in ("/health", "/ready"):
        began = time.monotonic()
        response = client.get(probe)
        assert response.status_code == 503, probe
        assert detail in response.json()["detail"]
        assert response.headers["retry-after"]
        assert time.monotonic() - began < FAST_S


def test_a_crashed_database_gives_fast_503s_and_heals_without_restart(
    make_client: Callable[..., Any], database: PostgresServer
) -> None:
    with make_client(database_url=database.url, **FAULT_SETTINGS) as client:
        calls = Calls(client)
        for _ in range(5):
            assert calls.score()[0].status_code == 200
        assert client.get("/ready").status_code == 200

        database.kill()
        for method, path, body in calls.audited():
            response, elapsed = calls.send(method, path, body)
            assert_refused_fast(calls, response, elapsed, path)
        assert_probes_refuse_fast(client, "database")
        assert client.get(f"/v1/clients/{calls.cid}", headers=HEADERS).status_code == 200

        database.start()  # the same data folder: crash recovery, then the API reconnects
        wait_until_healed(calls)
        for method, path, body in calls.audited():
            response, _ = calls.send(method, path, body)
            assert response.status_code == 200, (path, response.text)
        assert client.get("/health").status_code == 200
        assert_one_row_per_decision(calls)
        # the rows written before the crash survived it (and refused requests add none)
        assert services_of(client.app).audit.count() >= len(calls.served())  # type: ignore[arg-type]


def test_a_stalled_database_gives_fast_503s_and_heals_when_it_resumes(
    make_client: Callable[..., Any], database: PostgresServer
) -> None:
    with make_client(database_url=database.url, **FAULT_SETTINGS) as client:
        calls = Calls(client)
        for _ in range(5):
            assert calls.score()[0].status_code == 200
        database.pause()
        try:
            for _ in range(3):  # the first waits on the stalled insert, the next queue behind it
                response, elapsed = calls.score()
                assert_refused_fast(calls, response, elapsed, "/score")
            for method, path, body in calls.audited():
                response, elapsed = calls.send(method, path, body)
                assert_refused_fast(calls, response, elapsed, path)
            assert_probes_refuse_fast(client, "database stuck")
        finally:
            database.resume()
        wait_until_healed(calls)
        assert client.get("/health").status_code == 200
        for _ in range(5):
            assert calls.score()[0].status_code == 200
        assert_one_row_per_decision(calls)
