"""The API's production command runs 2 gunicorn workers: one scrape of /metrics counts the
requests both served (and keeps those of a worker that died), /metrics needs its token, and no
answer names the server."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.delivery.support import (
    STARTUP_COMMANDS,
    base_env,
    free_port,
    load_stage_module,
    serve,
    wait_for_health,
    with_port,
)

TOKEN = "delivery-metrics-token"
ROUNDS = 10  # of 100 requests each, at most, until both workers have served some


def scraped_health_count(base: str) -> float:
    response = httpx.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "api_requests_total" and sample.labels["route"] == "/health"
    )


def per_worker_health_counts(folder: Path) -> dict[int, float]:
    """What each worker wrote to the multiprocess folder (its counter file), by pid."""
    counts: dict[int, float] = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.removeprefix("counter_"))
        counts[pid] = sum(
            sample.value
            for family in MultiProcessCollector.merge([str(path)])
            for sample in family.samples
            if sample.name == "api_requests_total" and sample.labels["route"] == "/health"
        )
    return counts


def live_workers(folder: Path) -> set[int]:
    """Pids with live gauges: written by each worker as it starts, removed by gunicorn's
    child_exit hook (api/server.py) when it dies."""
    return {int(path.stem.rsplit("_", 1)[1]) for path in folder.glob("gauge_livemin_*.db")}


def fresh_connection_healths(base: str, count: int) -> list[httpx.Response]:
    """`count` GET /health, each on its own connection, 8 at a time (the workers accept in
    turn from one socket: parallel connections reach both)."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: httpx.get(f"{base}/health", timeout=30), range(count)))


@pytest.mark.slow
def test_one_scrape_counts_the_requests_of_both_workers(
    tmp_path: Path, demo_bundle: Path, demo_clients_folder: Path
) -> None:
    package = load_stage_module().stage(
        "api", tmp_path / "api", bundle=demo_bundle, clients=demo_clients_folder
    )
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"a previous run's values")  # must be wiped
    env = base_env(tmp_path)
    env.update(
        {
            "SCORING_BUNDLE": "bundle",
            "SCORING_CLIENTS": "clients",
            "API_KEYS": "delivery:delivery-test-key",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
            "API_WARM_CACHE": "false",
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(folder),
        }
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "api.log"
    with serve(with_port(STARTUP_COMMANDS["api"], port), package, env, log) as process:
        try:
            first = wait_for_health(f"{base}/health", process, 180)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{log.read_text()[-4000:]}") from None
        assert "server" not in first.headers  # no "server: uvicorn"
        assert first.headers["x-content-type-options"] == "nosniff"
        assert not (folder / "counter_1.db").exists()
        assert httpx.get(f"{base}/metrics", timeout=30).status_code == 401

        sent = 0
        for _ in range(ROUNDS):
            responses = fresh_connection_healths(base, 100)
            assert [r.status_code for r in responses] == [200] * 100
            sent += 100
            if len([n for n in per_worker_health_counts(folder).values() if n > 0]) == 2:
                break
        workers = per_worker_health_counts(folder)
        served = {pid: n for pid, n in workers.items() if n > 0}
        assert len(served) == 2, workers  # both workers answered some
        total = sum(workers.values())
        assert total >= sent  # plus the health polls of the start-up
        # Every scrape, whichever worker answers it, sees the total of both.
        assert [scraped_health_count(base) for _ in range(6)] == [total] * 6

        # A worker killed: gunicorn starts another, and the dead one's counts stay.
        victim = max(served, key=served.__getitem__)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while victim in live_workers(folder) or len(live_workers(folder)) < 2:
            assert time.monotonic() < deadline, "no worker replaced the killed one"
            time.sleep(0.5)
        assert [scraped_health_count(base) for _ in range(4)] == [total] * 4
