"""The audit guarantee through the API: a decision's row is committed before its response, a
stalled audit log gives 503 with Retry-After within the bounded wait, a row that cannot be
written fails its own request only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import text

from api.audit import AuditLog
from tests.api.conftest import HEADERS, OTHER_KEY, services_of


def test_the_row_is_committed_before_the_response(make_client: Callable[..., Any]) -> None:
    with make_client() as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        log: AuditLog = services.audit
        cid = int(services.store.ids[0])
        committed: list[float] = []
        insert = log._insert

        def slow_insert(items: Any) -> None:
            time.sleep(0.3)  # a slow commit, within the bounded wait
            insert(items)
            committed.append(time.perf_counter())

        log._insert = slow_insert  # type: ignore[method-assign]
        response = client.get(f"/v1/clients/{cid}/explanation", headers=HEADERS)
        answered = time.perf_counter()
        assert response.status_code == 200
        assert len(committed) == 1
        assert committed[0] <= answered
        assert log.rows()[-1]["client_id"] == cid


def test_a_stalled_audit_log_gives_503_with_retry_after(make_client: Callable[..., Any]) -> None:
    with make_client(audit_wait_s=0.3) as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        log: AuditLog = services.audit
        cid = int(services.store.ids[0])
        release = threading.Event()
        insert = log._insert

        def stalled(items: Any) -> None:
            release.wait(20)  # a database that accepts the statement and never answers
            insert(items)

        log._insert = stalled  # type: ignore[method-assign]
        try:
            for path in (f"/v1/clients/{cid}/score", f"/v1/clients/{cid}/explanation"):
                started = time.perf_counter()
                response = client.get(path, headers=HEADERS)
                assert time.perf_counter() - started < 2, path
                assert response.status_code == 503, path
                assert response.headers["Retry-After"] == "1"
                assert "did not commit" in response.json()["detail"]
            # routes that serve no decision are not held up
            assert client.get(f"/v1/clients/{cid}", headers=HEADERS).status_code == 200
        finally:
            release.set()
        log._insert = insert  # type: ignore[method-assign]
        before = log.count()
        assert client.get(f"/v1/clients/{cid}/score", headers=HEADERS).status_code == 200
        # recovered without restart; the abandoned rows of the 503s were at most written late
        assert log.count() >= before + 1


class _LongNameFor:
    """The key source, except that one key is named beyond the audit column (64 characters)."""

    def __init__(self, keys: Any, key: str) -> None:
        self.keys = keys
        self.key = key

    def identify(self, presented: str | None) -> str | None:
        return "x" * 65 if presented == self.key else self.keys.identify(presented)


def test_a_row_that_cannot_be_written_fails_its_request_alone(
    make_client: Callable[..., Any],
) -> None:
    with make_client() as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        services.keys = _LongNameFor(services.keys, OTHER_KEY)  # type: ignore[assignment]
        cid = int(services.store.ids[0])
        before = services.audit.count()

        def hit(i: int) -> tuple[int, int]:
            headers = {"X-API-Key": OTHER_KEY} if i % 4 == 0 else HEADERS
            response = client.get(f"/v1/clients/{cid}/score", headers=headers)
            return i % 4, response.status_code

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(hit, range(200)))
        good = [status for kind, status in results if kind]
        bad = [status for kind, status in results if not kind]
        assert good == [200] * 150
        assert bad == [503] * 50
        assert services.audit.count() == before + 150


def test_a_row_the_database_refuses_gets_503_alone_never_500(
    make_client: Callable[..., Any],
) -> None:
    """Rows that pass the checks but that the database refuses (a trigger here; a constraint or
    a value out of the driver's range alike) go through the writer's group commit with the
    others: the refused request gets the contract's 503 with Retry-After, the requests
    committed with it get 200 and their rows."""
    with make_client() as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        log: AuditLog = services.audit
        with log.engine.begin() as conn:
            conn.execute(
                text(
                    f"CREATE TRIGGER refuse_poison BEFORE INSERT ON {log.table.name} WHEN "
                    "NEW.request_id LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        cid = int(services.store.ids[0])
        before = log.count()

        def hit(i: int) -> tuple[bool, Any]:
            poison = i % 4 == 0
            rid = f"poison-{i}" if poison else f"good-{i}"
            response = client.get(
                f"/v1/clients/{cid}/score", headers={**HEADERS, "X-Request-ID": rid}
            )
            return poison, response

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(hit, range(120)))
        refused = [r for poison, r in results if poison]
        served = [r for poison, r in results if not poison]
        assert [r.status_code for r in served] == [200] * 90
        assert [r.status_code for r in refused] == [503] * 30
        assert all(r.headers["retry-after"] == "1" for r in refused)
        assert {r.json()["detail"] for r in refused} == {
            "decision audit log refused this decision's row"
        }
        rows = log.rows()[before:]
        assert len(rows) == 90
        assert all(row["request_id"].startswith("good-") for row in rows)
