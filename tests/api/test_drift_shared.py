"""The drift window in the audit database (api/drift_store.py): two app instances (two gunicorn
workers) on one database answer one window, a restart keeps it, the writer bounds it by rows
and age, the table has no id column, and a drift row that cannot be written or read never
fails a decision."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import inspect

from api.audit import drop_tables, make_engine
from api.drift_store import DriftStore, drift_table_name
from api.migrate import upgrade
from tests.api.conftest import HEADERS, services_of
from tests.api.test_batch import full_records
from tests.services import postgres_url

SMALL = {"api_drift_refresh_s": 0.0, "api_drift_min_rows": 20, "api_drift_window_rows": 100}
SAME = ("status", "dataset_drift", "share_drifted", "drifted", "tested", "features")


def _drift(client: Any) -> Any:
    assert services_of(client.app).audit.flush_drift()
    return client.get("/v1/model/drift", headers=HEADERS)


def _score(client: Any, records: list[dict[str, Any]]) -> None:
    answer = client.post("/v1/predict/batch", json={"records": records}, headers=HEADERS)
    assert answer.status_code == 200


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings of one audit database: a SQLite file, or tables of their own in PostgreSQL."""
    if request.param == "sqlite":
        yield {"database_url": f"sqlite:///{tmp_path / 'shared.db'}"}
        return
    table = f"audit_drift_{uuid.uuid4().hex[:10]}"
    yield {"database_url": postgres_url(), "audit_table": table}
    engine = make_engine(postgres_url())
    drop_tables(engine, table)
    engine.dispose()


def test_two_workers_answer_one_window_and_a_restart_keeps_it(
    make_client: Callable[..., Any], database: dict[str, str]
) -> None:
    settings = SMALL | database
    with make_client(**settings) as first, make_client(**settings) as second:
        records = full_records(services_of(first.app), 60)
        _score(first, records[:30])
        _score(second, records[30:])
        assert services_of(second.app).audit.flush_drift()
        one, other = _drift(first).json(), _drift(second).json()
        assert one["status"] == "ok"
        assert one["window"]["rows"] == other["window"]["rows"] == 60
        assert {k: one[k] for k in SAME} == {k: other[k] for k in SAME}
        assert one["window"] == other["window"]
    with make_client(**settings) as restarted:
        again = _drift(restarted).json()
        assert again["window"]["rows"] == 60
        assert {k: again[k] for k in SAME} == {k: one[k] for k in SAME}


def test_the_table_holds_feature_values_only(
    make_client: Callable[..., Any], database: dict[str, str]
) -> None:
    with make_client(**SMALL | database) as client:
        services = services_of(client.app)
        _score(client, full_records(services, 5))
        assert services.audit.flush_drift()
        name = drift_table_name(services.audit.table.name)
        columns = {c["name"] for c in inspect(services.audit.engine).get_columns(name)}
        assert columns == {"minute", "features", "vector"}  # no id, key, request or client
        values, times = services.drift.rows.snapshot(0.0)  # type: ignore[union-attr]
        assert values.shape == (5, len(services.model.feature_names))
        assert values.dtype == np.float32
        assert set((times % 60).tolist()) == {0.0}  # to the minute, no finer


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_writer_bounds_the_window_by_rows_and_age(database: dict[str, str]) -> None:
    url, table = database["database_url"], database.get("audit_table", "decision_audit")
    engine = make_engine(url)
    upgrade(engine, table)
    clock = Clock()
    store = DriftStore(engine, table, ["a", "b"], max_rows=50, max_age_s=3600, prune_s=0.0,
                       clock=clock)  # fmt: skip
    try:
        store.add(np.column_stack([np.arange(40), np.arange(40)]).astype("float32"))
        assert store.write()
        clock.now += 60
        store.add(np.column_stack([np.arange(40, 80), np.arange(40, 80)]).astype("float32"))
        assert store.write()
        kept = sorted(store.snapshot(0.0)[0][:, 0].tolist())
        assert len(kept) == 50  # max_rows: the 40 newest and 10 of the minute before
        assert kept[10:] == list(range(40, 80))
        assert set(kept[:10]) < set(range(40))
        clock.now += 3600  # the first write is older than max_age_s, the second not yet
        store.add(np.array([[100.0, 100.0]], dtype="float32"))
        assert store.write()
        values, _ = store.snapshot(0.0)
        assert sorted(values[:, 0].tolist()) == [*range(40, 80), 100]
        clock.now += 3700
        store.prune()
        assert len(store.snapshot(0.0)[0]) == 0
        assert store.written == 81
    finally:
        if url.startswith("postgresql"):
            drop_tables(engine, table)
        engine.dispose()


def test_a_write_of_more_than_the_window_writes_only_its_newest_rows(
    database: dict[str, str],
) -> None:
    """Rows a write would prune at once are never written (a batch load's excess)."""
    url, table = database["database_url"], database.get("audit_table", "decision_audit")
    engine = make_engine(url)
    upgrade(engine, table)
    store = DriftStore(engine, table, ["a", "b"], max_rows=30, max_age_s=3600, prune_s=0.0,
                       clock=Clock())  # fmt: skip
    try:
        for start in (0, 25, 50):  # three batches queued before the writer comes
            block = np.arange(start, start + 25, dtype="float32")
            store.add(np.column_stack([block, block]))
        # the first batch left the queue when the third came: the two newer fill the window
        assert store.pending == 2
        assert store.superseded == 25
        assert store.write()
        assert sorted(store.snapshot(0.0)[0][:, 0].tolist()) == list(range(45, 75))
        assert store.written == 30
    finally:
        if url.startswith("postgresql"):
            drop_tables(engine, table)
        engine.dispose()


def test_a_drift_row_that_fails_never_fails_the_decision(
    make_client: Callable[..., Any], tmp_path: Path
) -> None:
    with make_client(**SMALL) as client:
        services = services_of(client.app)
        records = full_records(services, 3)
        audit = services.audit
        with audit.engine.begin() as conn:  # the drift table is gone: its rows cannot be written
            conn.exec_driver_sql(f'DROP TABLE "{drift_table_name(audit.table.name)}"')
        before = audit.count()
        _score(client, records)
        assert audit.flush_drift()
        assert audit.count() == before + 3  # the decisions are audited all the same
        assert services.drift is not None
        assert services.drift.rows.dropped == 3  # type: ignore[attr-defined]
        # ...and cannot be read: a clear 503, as every route whose database does not answer
        answer = client.get("/v1/model/drift", headers=HEADERS)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert "drift window unavailable" in answer.json()["detail"]

        def broken(_: Any) -> None:
            raise RuntimeError("drift queue broken")

        services.drift.rows.add = broken  # type: ignore[method-assign]
        _score(client, records)
        assert audit.count() == before + 6


@pytest.mark.slow
def test_the_production_command_with_two_workers_answers_one_window(
    tmp_path: Path, demo_bundle: Path, demo_clients_folder: Path
) -> None:
    """gunicorn, 2 uvicorn workers, one SQLite file: every answer counts every application,
    whichever worker scored it and whichever answers (each counted about half before)."""
    import httpx
    import pandas as pd
    import psutil

    from tests.api.test_worker_faults import ready, wait_for
    from tests.delivery.support import (
        REPO_ROOT,
        STARTUP_COMMANDS,
        base_env,
        free_port,
        serve,
        with_port,
    )

    ids = pd.read_parquet(demo_clients_folder / "application_test.parquet", columns=["SK_ID_CURR"])
    client_ids = [int(i) for i in ids["SK_ID_CURR"][:40]]
    env = base_env(tmp_path)
    env.update(
        {
            "SCORING_BUNDLE": str(demo_bundle),
            "SCORING_CLIENTS": str(demo_clients_folder),
            "SCORING_CACHE": str(tmp_path / "cache"),
            "API_KEYS": "drift:drift-key",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
            "API_RATE_LIMIT": "0",
            "API_WARM_CACHE": "false",
            "API_DRIFT_MIN_ROWS": "20",
            "API_DRIFT_REFRESH_S": "0",
        }
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"X-API-Key": "drift-key"}
    argv = with_port(STARTUP_COMMANDS["api"], port)
    with serve(argv, REPO_ROOT, env, tmp_path / "api.log") as master:
        wait_for(lambda: ready(base) or master.poll() is not None, "the API never ready")
        assert master.poll() is None
        assert len(psutil.Process(master.pid).children()) == 2
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            for client_id in client_ids:  # new connections: both workers score some
                assert httpx.get(f"{base}/v1/clients/{client_id}/score", headers=headers,
                                 timeout=30).status_code == 200  # fmt: skip

            def rows() -> int:
                return int(httpx.get(f"{base}/v1/model/drift", headers=headers,
                                     timeout=30).json()["window"]["rows"])  # fmt: skip

            wait_for(lambda: rows() == 40, "the window never counted every application")
            answers = [httpx.get(f"{base}/v1/model/drift", headers=headers, timeout=30).json()
                       for _ in range(12)]  # fmt: skip
            assert {a["window"]["rows"] for a in answers} == {40}
            assert len({(a["share_drifted"], tuple(a["drifted"])) for a in answers}) == 1
            assert http.get("/ready").status_code == 200
