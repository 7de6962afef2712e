"""Operations: the decision audit log through the API (SQLite and PostgreSQL), database outage,
rate limiting (memory and Redis), start-up failures, request ids and JSON access logs."""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from api.audit import AuditLog
from api.auth import KeyConfigError
from api.observability import JsonFormatter
from api.settings import Settings
from scoring.errors import BundleError
from tests.api.conftest import HEADERS, METRICS_HEADERS, OTHER_KEY, services_of
from tests.services import RedisServer, own_redis, postgres_url, redis_url


def audited_calls(client: TestClient, cid: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/v1/clients/{cid}/score", None),
        ("GET", f"/v1/clients/{cid}/explanation", None),
        ("GET", f"/v1/clients/{cid}/counterfactual", None),
        ("POST", "/v1/predict", {"features": {}}),
        ("POST", "/v1/explain", {"client_id": cid, "changes": {"AMT_CREDIT": 1000.0}}),
        ("POST", "/v1/predict/batch", {"records": [{"features": {}}, {"features": {}}]}),
    ]


def check_audit(client: TestClient) -> None:
    services = services_of(client.app)  # type: ignore[arg-type]
    log: AuditLog = services.audit
    cid = int(services.store.ids[0])
    before = log.count()
    for n, (method, path, body) in enumerate(audited_calls(client, cid)):
        response = client.request(
            method, path, json=body, headers={**HEADERS, "X-Request-ID": f"req-{n}"}
        )
        assert response.status_code == 200, response.text
    rows = log.rows()[before:]
    assert len(rows) == 7  # the batch writes one row per record
    routes = [r["route"] for r in rows]
    assert routes[:3] == [
        "/v1/clients/{client_id}/score",
        "/v1/clients/{client_id}/explanation",
        "/v1/clients/{client_id}/counterfactual",
    ]
    assert all(r["key_name"] == "tester" for r in rows)
    assert all(r["model_version"] == services.model.version for r in rows)
    assert all(r["decision"] in ("grant", "refuse", "refer") for r in rows)
    assert all(0 <= r["probability"] <= 1 for r in rows)
    assert all(r["threshold"] == pytest.approx(services.model.threshold) for r in rows)
    reasons = {
        "refuse": "at_or_above_threshold",
        "grant": "below_threshold",
        "refer": "missing_information",
    }
    assert all(r["decision_reason"] == reasons[r["decision"]] for r in rows)
    assert rows[0]["client_id"] == cid
    assert [r["request_id"] for r in rows] == [
        "req-0",
        "req-1",
        "req-2",
        "req-3",
        "req-4",
        "req-5",
        "req-5",
    ]
    assert rows[3]["client_id"] is None
    assert len(rows[3]["input_hash"]) == 64
    assert rows[4]["client_id"] == cid
    assert rows[4]["input_hash"] is not None
    # Non-audited routes write nothing.
    client.get(f"/v1/clients/{cid}", headers=HEADERS)
    assert log.count() == before + 7

    # Concurrent load: no row lost.
    def hit(i: int) -> int:
        key = HEADERS if i % 2 else {"X-API-Key": OTHER_KEY}
        return client.get(f"/v1/clients/{cid}/score", headers=key).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(hit, range(200)))
    assert statuses == [200] * 200
    assert log.count() == before + 7 + 200
    names = {r["key_name"] for r in log.rows()[before + 7 :]}
    assert names == {"tester", "other"}


def test_audit_rows_on_sqlite(make_client: Callable[..., Any]) -> None:
    with make_client() as client:
        check_audit(client)


@pytest.mark.postgres
def test_audit_rows_on_postgresql(make_client: Callable[..., Any]) -> None:
    table = f"audit_api_{uuid.uuid4().hex[:12]}"
    with make_client(database_url=postgres_url(), audit_table=table) as client:
        log = services_of(client.app).audit  # type: ignore[arg-type]
        try:
            check_audit(client)
        finally:
            log.drop()


def test_database_down_gives_503_on_audited_routes(make_client: Callable[..., Any]) -> None:
    with make_client(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none") as client:
        cid = int(services_of(client.app).store.ids[0])  # type: ignore[arg-type]
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "database" in ready.json()["detail"]
        for method, path, body in audited_calls(client, cid):
            response = client.request(method, path, json=body, headers=HEADERS)
            assert response.status_code == 503, path
            assert response.json() == {"detail": "decision audit log unavailable"}
        # Routes that serve no decision keep working.
        assert client.get(f"/v1/clients/{cid}", headers=HEADERS).status_code == 200
        metrics = client.get("/metrics", headers=METRICS_HEADERS).text
        assert "api_audit_failures_total 6.0" in metrics


def test_rate_limit_per_key_with_retry_after(make_client: Callable[..., Any]) -> None:
    with make_client(api_rate_limit=3) as client:
        statuses = [client.get("/v1/model", headers=HEADERS).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = client.get("/v1/model", headers=HEADERS)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "rate limit" in refused.json()["detail"]
        assert client.get("/v1/model", headers={"X-API-Key": OTHER_KEY}).status_code == 200
        assert client.get("/health").status_code == 200  # never limited


@pytest.mark.redis
def test_rate_limit_shared_through_redis(make_client: Callable[..., Any]) -> None:
    # A key name unique to this run keeps the shared Redis window clean.
    key_name = f"redis-{uuid.uuid4().hex[:8]}"
    settings = {"api_rate_limit": 3, "redis_url": redis_url()}
    with (
        make_client(api_keys=f"{key_name}:shared-key", **settings) as first,
        make_client(api_keys=f"{key_name}:shared-key", **settings) as second,
    ):
        shared = {"X-API-Key": "shared-key"}
        statuses = [
            (first if i % 2 else second).get("/v1/model", headers=shared).status_code
            for i in range(5)
        ]
        assert statuses.count(200) in (3, 4, 5)  # a minute boundary may reset the window once
        assert 429 in statuses or statuses.count(200) > 3
        limited = [s for s in statuses if s == 429]
        if limited:
            response = first.get("/v1/model", headers=shared)
            assert response.status_code == 429
            assert int(response.headers["Retry-After"]) >= 1
    # The window lives in Redis (a Redis that is down fails open: every call would pass).
    store = redis.Redis.from_url(redis_url())
    try:
        windows = list(store.scan_iter(f"ratelimit:{key_name}:*"))
        assert windows, "no rate-limit window in Redis"
        store.delete(*windows)
    finally:
        store.close()


def degraded(client: TestClient) -> str:
    text = client.get("/metrics", headers=METRICS_HEADERS).text
    (line,) = [x for x in text.splitlines() if x.startswith("api_ratelimit_store_degraded ")]
    return line.split()[-1]


REDIS_FAULTS: dict[str, tuple[Callable[[RedisServer], None], Callable[[RedisServer], None]]] = {
    # killed: nothing listens on its port until it is started again (a crash and a restart)
    "down": (RedisServer.stop, RedisServer.start),
    # frozen with SIGSTOP: it accepts connections and never answers
    "stalled": (RedisServer.pause, RedisServer.resume),
}


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(REDIS_FAULTS))
def test_a_failing_redis_neither_fails_nor_floods_the_log_and_heals(
    make_client: Callable[..., Any], api_records: list[logging.LogRecord], fault: str
) -> None:
    """A throwaway redis-server under a running app is killed (then started again on its port)
    or frozen (then resumed): every call still answers, /metrics says the limiter is degraded,
    one log line; once Redis answers again the API goes back to it by itself, one more line."""
    break_it, mend_it = REDIS_FAULTS[fault]
    settings = {
        "api_rate_limit": 10_000,
        "redis_timeout_s": 0.1,
        "redis_breaker_failures": 3,
        "redis_breaker_cooldown_s": 0.5,
        "api_warm_cache": False,
    }
    with (
        own_redis() as server,
        make_client(redis_url=server.url, **settings) as client,
    ):
        assert client.get("/v1/model", headers=HEADERS).status_code == 200
        assert degraded(client) == "0.0"
        break_it(server)
        statuses = [client.get("/v1/model", headers=HEADERS).status_code for _ in range(30)]
        assert statuses == [200] * 30
        assert degraded(client) == "1.0"
        mend_it(server)
        deadline = time.monotonic() + 30
        while degraded(client) != "0.0":
            assert time.monotonic() < deadline, "the limiter never went back to Redis"
            assert client.get("/v1/model", headers=HEADERS).status_code == 200
            time.sleep(0.1)
    lines = [r.getMessage() for r in api_records if r.name == "api.ratelimit"]
    assert len(lines) == 2, lines  # opened, closed: not one per request
    assert "unavailable" in lines[0]
    assert "recovered" in lines[1]


def test_missing_bundle_stops_start_up(base_settings: Settings, tmp_path: Path) -> None:
    app = create_app(base_settings.model_copy(update={"scoring_bundle": tmp_path / "none"}))
    with pytest.raises(BundleError), TestClient(app):
        pass


def test_corrupt_bundle_stops_start_up(base_settings: Settings, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "metadata.json").write_text("{not json")
    app = create_app(base_settings.model_copy(update={"scoring_bundle": bundle}))
    with pytest.raises(BundleError), TestClient(app):
        pass


def test_no_keys_stops_start_up_unless_demo_allowed(
    base_settings: Settings, tmp_path: Path
) -> None:
    settings = base_settings.model_copy(
        update={"api_keys": "", "database_url": f"sqlite:///{tmp_path}/a.db"}
    )
    with pytest.raises(KeyConfigError, match="API_KEYS"), TestClient(create_app(settings)):
        pass
    demo = settings.model_copy(update={"api_allow_demo_key": True, "api_warm_cache": False})
    with TestClient(create_app(demo)) as client:
        assert client.get("/v1/model", headers={"X-API-Key": "demo-key"}).status_code == 200
        assert client.get("/v1/model", headers=HEADERS).status_code == 401


def test_missing_clients_file_stops_start_up(base_settings: Settings, tmp_path: Path) -> None:
    app = create_app(base_settings.model_copy(update={"scoring_clients": tmp_path / "none.csv"}))
    with pytest.raises(RuntimeError, match="clients file or folder not found"), TestClient(app):
        pass


def test_start_up_failure_is_reported_in_one_line(base_settings: Settings, tmp_path: Path) -> None:
    """What a server (uvicorn, gunicorn) prints is the lifespan failure message."""
    import asyncio

    app = create_app(base_settings.model_copy(update={"scoring_bundle": tmp_path / "none"}))
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        messages = iter([{"type": "lifespan.startup"}])

        async def receive() -> dict[str, Any]:
            return next(messages)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        with contextlib.suppress(BundleError):
            await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    asyncio.run(run())
    failed = [m for m in sent if m["type"] == "lifespan.startup.failed"]
    assert len(failed) == 1
    assert "\n" not in failed[0]["message"]
    assert failed[0]["message"].startswith("API cannot start: ")
    assert "none" in failed[0]["message"]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    handler = Collect()
    logger = logging.getLogger("api.access")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def test_request_id_and_json_access_log_without_personal_data(
    make_client: Callable[..., Any], access_lines: list[str]
) -> None:
    with make_client(api_log_requests=True, api_warm_cache=False) as client:
        cid = int(services_of(client.app).store.ids[0])  # type: ignore[arg-type]
        given = client.get(f"/v1/clients/{cid}", headers={**HEADERS, "X-Request-ID": "abc-123"})
        assert given.headers["X-Request-ID"] == "abc-123"
        made = client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
        assert made.headers["X-Request-ID"] != "bad id with spaces"
        assert len(made.headers["X-Request-ID"]) == 32
        client.get(f"/v1/clients/{cid}/explanation?top=2", headers=HEADERS)
        client.get("/v1/clients/1", headers=HEADERS)
    records = [orjson.loads(line) for line in access_lines]
    assert [r["route"] for r in records] == [
        "/v1/clients/{client_id}",
        "/health",
        "/v1/clients/{client_id}/explanation",
        "/v1/clients/{client_id}",
    ]
    assert records[0]["request_id"] == "abc-123"
    assert [r["status"] for r in records] == [200, 200, 200, 404]
    assert all(r["latency_ms"] >= 0 for r in records)
    assert all(str(cid) not in line for line in access_lines)


@pytest.mark.parametrize(
    "sent",
    [
        "x" * 65,  # over the bound
        "y" * 10_000,
        'id"}, {"level": "critical", "message": "forged',  # a forged log field
        "id\tnext",
        "résumé",
        "",
    ],
)
def test_a_client_request_id_is_bounded_and_sanitised_before_the_log(
    make_client: Callable[..., Any], access_lines: list[str], sent: str
) -> None:
    """Only 1-64 characters of A-Z a-z 0-9 . _ - are kept; anything else is replaced by an id
    of the API's own, so the log line never carries what the client sent."""
    with make_client(api_log_requests=True, api_warm_cache=False) as client:
        response = client.get(
            "/health",
            headers={"X-Request-ID": sent.encode("latin-1")},  # type: ignore[dict-item]
        )
    made = response.headers["X-Request-ID"]
    assert made != sent
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    (line,) = access_lines
    record = orjson.loads(line)
    assert record["request_id"] == made
    assert set(record) == {"ts", "level", "logger", "request_id", "method", "route", "status",
                           "latency_ms"}  # fmt: skip
    if sent:
        assert sent not in line


def test_a_valid_request_id_of_64_characters_is_kept(make_client: Callable[..., Any]) -> None:
    sent = "A-z_0.9" * 9 + "a"
    assert len(sent) == 64
    with make_client(api_warm_cache=False) as client:
        assert client.get("/health", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent


def test_not_ready_until_started(base_settings: Settings) -> None:
    client = TestClient(create_app(base_settings))  # no `with`: the lifespan has not run
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 503
    response = client.get("/v1/model", headers=HEADERS)
    assert response.status_code == 503
    assert response.json() == {"detail": "the API is starting"}


def test_importing_the_entry_point_does_no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.setenv("SCORING_BUNDLE", "/does/not/exist")  # would fail if loaded at import
    sys.modules.pop("api.main", None)
    main = importlib.import_module("api.main")
    assert main.app.state.services is None
    assert main.app.state.settings.scoring_bundle == Path("/does/not/exist")
    sys.modules.pop("api.main", None)
