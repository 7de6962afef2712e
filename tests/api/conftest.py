"""Apps on the demo bundle: one warm app per test module, others built per test when a test
needs different settings. The batch cache directory is shared, so SHAP is computed once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import Services
from api.settings import Settings

KEY = "test-key"
OTHER_KEY = "other-key"
HEADERS = {"X-API-Key": KEY}
METRICS_TOKEN = "metrics-test-token"
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batch-cache")


@pytest.fixture(scope="session")
def base_settings(demo_bundle: Path, demo_clients_folder: Path, cache_dir: Path) -> Settings:
    from api.auth import digest

    return Settings(
        scoring_bundle=demo_bundle,
        scoring_clients=demo_clients_folder,
        scoring_cache=cache_dir,
        api_keys=f"tester:{KEY},other:sha256:{digest(OTHER_KEY)}",
        metrics_token=METRICS_TOKEN,
        database_url="sqlite:///:memory:",
        api_rate_limit=0,
        api_batch_max=50,
        api_log_requests=False,
    )


AppFactory = Callable[..., Any]


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def api_records() -> Iterator[list[logging.LogRecord]]:
    """Records of the api.* loggers, which do not propagate to the root once an app configured
    them (so pytest's caplog misses them)."""
    records: list[logging.LogRecord] = []
    handler = _Keep(records)
    logger = logging.getLogger("api")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@contextmanager
def running(settings: Settings, wait_cache: bool = True) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        services = services_of(app)
        if wait_cache and services.warmer is not None:
            services.warmer.join(timeout=120)
        yield client


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


@pytest.fixture
def make_client(base_settings: Settings, tmp_path: Path) -> Callable[..., Any]:
    """``with make_client(api_rate_limit=3) as client:`` an app with some settings changed."""

    def factory(wait_cache: bool = True, **changes: Any) -> Any:
        changes.setdefault("database_url", f"sqlite:///{tmp_path}/audit.db")
        return running(base_settings.model_copy(update=changes), wait_cache=wait_cache)

    return factory


@pytest.fixture(scope="module")
def client(
    base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """A warm app (batch cache filled) with a SQLite audit log of its own."""
    db = tmp_path_factory.mktemp("audit") / "audit.db"
    with running(base_settings.model_copy(update={"database_url": f"sqlite:///{db}"})) as c:
        yield c


@pytest.fixture(scope="module")
def services(client: TestClient) -> Services:
    return services_of(client.app)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client_ids(services: Services) -> list[int]:
    return [int(i) for i in services.store.ids]
