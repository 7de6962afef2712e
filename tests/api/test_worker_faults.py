"""A gunicorn worker SIGKILLed under load, on the production command (2 uvicorn workers) with a
PostgreSQL audit log of the test's own: the master starts another worker, the clients see at
most their in-flight requests fail (a dropped connection), the surviving worker answers every
other request (never a 5xx), and every decision answered 200 has exactly one audit row."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, text

from tests.delivery.support import (
    REPO_ROOT,
    STARTUP_COMMANDS,
    base_env,
    free_port,
    serve,
    with_port,
)
from tests.services import own_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

KEY = "worker-fault-key"
THREADS = 6
BEFORE, AFTER = 60, 60  # answers wanted before the kill, and after the new worker is up
DEADLINE_S = 240.0  # for each phase: never reached on a sound server, bounds a broken one


class Load:
    """THREADS clients sending /score, each request on a fresh connection (so that a request
    can only fail when it was in flight on the killed worker) with a unique request id."""

    def __init__(self, base: str, client_ids: list[int]) -> None:
        self.base = base
        self.ids = client_ids
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.outcomes: list[tuple[str, int | str]] = []  # (request id, status or error name)
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(THREADS)]

    def _run(self, n: int) -> None:
        i = n
        while not self.stop.is_set():
            rid = uuid.uuid4().hex
            cid = self.ids[i % len(self.ids)]
            i += THREADS
            try:
                response = httpx.get(
                    f"{self.base}/v1/clients/{cid}/score",
                    headers={"X-API-Key": KEY, "X-Request-ID": rid},
                    timeout=30,
                )
                outcome: int | str = response.status_code
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            with self.lock:
                self.outcomes.append((rid, outcome))

    def answered(self) -> int:
        with self.lock:
            return sum(1 for _, outcome in self.outcomes if isinstance(outcome, int))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_killed_worker_is_replaced_and_no_decision_goes_unlogged(
    tmp_path: Path, demo_bundle: Path, demo_clients_folder: Path
) -> None:
    import pandas as pd

    ids = pd.read_parquet(demo_clients_folder / "application_test.parquet", columns=["SK_ID_CURR"])
    client_ids = [int(i) for i in ids["SK_ID_CURR"][:50]]
    with own_postgres() as database:
        env = base_env(tmp_path)
        env.update(
            {
                "SCORING_BUNDLE": str(demo_bundle),
                "SCORING_CLIENTS": str(demo_clients_folder),
                "SCORING_CACHE": str(tmp_path / "cache"),
                "API_KEYS": f"faults:{KEY}",
                "DATABASE_URL": database.url,
                "API_RATE_LIMIT": "0",
                "API_LOG_REQUESTS": "false",
                "API_WARM_CACHE": "false",
            }
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp_path / "api.log"
        argv = with_port(STARTUP_COMMANDS["api"], port)
        with serve(argv, REPO_ROOT, env, log) as master:
            try:
                wait_for(lambda: ready(base) or master.poll() is not None, "the API never ready")
                assert master.poll() is None, log.read_text()[-4000:]
                workers = {child.pid for child in psutil.Process(master.pid).children()}
                assert len(workers) == 2, workers
                with Load(base, client_ids) as load:
                    wait_for(lambda: load.answered() >= BEFORE, "no load served")
                    victim = min(workers)
                    os.kill(victim, signal.SIGKILL)
                    killed_at = load.answered()

                    def replaced() -> bool:
                        now = {c.pid for c in psutil.Process(master.pid).children()}
                        return victim not in now and len(now) == 2

                    wait_for(replaced, "gunicorn did not replace the killed worker")
                    new = {c.pid for c in psutil.Process(master.pid).children()} - workers
                    assert len(new) == 1
                    wait_for(lambda: load.answered() >= killed_at + AFTER, "no load after")
                    assert master.poll() is None
            except AssertionError as error:
                raise AssertionError(f"{error}\n{log.read_text()[-4000:]}") from None
        # gunicorn stopped (SIGTERM: the workers commit what they hold, then exit)
        engine = create_engine(database.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT request_id FROM decision_audit")).scalars()
                per_request = Counter(rows)
        finally:
            engine.dispose()

    statuses = Counter(outcome for _, outcome in load.outcomes)
    answered = {status for status in statuses if isinstance(status, int)}
    assert answered == {200}, statuses  # the survivor never answered a 5xx (nor anything else)
    failed = sum(n for outcome, n in statuses.items() if isinstance(outcome, str))
    assert failed <= THREADS, statuses  # only requests in flight on the killed worker
    served = [rid for rid, outcome in load.outcomes if outcome == 200]
    assert len(served) >= BEFORE + AFTER
    assert all(per_request[rid] == 1 for rid in served), "a decision without exactly one row"
    assert max(per_request.values()) == 1
