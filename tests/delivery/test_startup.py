"""The exact production startup commands serve their health path.

Each app is staged by deploy/stage.py as App Service receives it, then started from that folder
with the exact startup command (only the port 8000 changed to a free one) and the app settings
of the IaC, and polled on its health path, as App Service's health check does.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.delivery.support import (
    HEALTH_PATHS,
    STARTUP_COMMANDS,
    base_env,
    free_port,
    load_stage_module,
    serve,
    wait_for_health,
    with_port,
)

STARTUP_TIMEOUT_S = 180


def test_with_port_changes_only_the_port() -> None:
    assert with_port(STARTUP_COMMANDS["api"], 5123) == [
        "gunicorn",
        "-c",
        "python:api.server",
        "-w",
        "2",
        "--bind",
        "0.0.0.0:5123",
        "api.main:app",
    ]
    assert with_port(STARTUP_COMMANDS["dashboard"], 5124) == [
        "python",
        "-m",
        "streamlit",
        "run",
        "dashboard/app.py",
        "--server.port",
        "5124",
        "--server.address",
        "0.0.0.0",
        "--server.headless",
        "true",
    ]


def check_health(app: str, cwd: Path, env: dict[str, str], log: Path) -> None:
    port = free_port()
    argv = with_port(STARTUP_COMMANDS[app], port)
    with serve(argv, cwd, env, log) as process:
        url = f"http://127.0.0.1:{port}{HEALTH_PATHS[app]}"
        try:
            response = wait_for_health(url, process, STARTUP_TIMEOUT_S)
        except AssertionError as error:
            raise AssertionError(
                f"{error}\n--- server log ---\n{log.read_text()[-4000:]}"
            ) from None
    if app == "api":
        assert response.json() == {"status": "ok"}
    else:
        assert response.text.strip() == "ok"


@pytest.mark.slow
def test_api_startup_command_serves_health(
    tmp_path: Path, demo_bundle: Path, demo_clients_folder: Path
) -> None:
    package = load_stage_module().stage(
        "api", tmp_path / "api", bundle=demo_bundle, clients=demo_clients_folder
    )
    env = base_env(tmp_path)
    env.update(
        {
            # The values of deploy/azure/main.bicep (relative to the package root)...
            "SCORING_BUNDLE": "bundle",
            "SCORING_CLIENTS": "clients",
            # ...and the secrets the Key Vault references would resolve to.
            "API_KEYS": "delivery:delivery-test-key",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
            "API_WARM_CACHE": "false",  # spare the CPU: health does not need the batch cache
        }
    )
    check_health("api", package, env, tmp_path / "api.log")


@pytest.mark.slow
def test_dashboard_startup_command_serves_health(tmp_path: Path) -> None:
    package = load_stage_module().stage("dashboard", tmp_path / "dashboard")
    env = base_env(tmp_path)
    # The dashboard only calls the API when a page runs; health needs no API behind it.
    env.update(
        {
            "API_URL": "http://127.0.0.1:9",
            "API_KEY": "delivery-test-key",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }
    )
    check_health("dashboard", package, env, tmp_path / "dashboard.log")


class FakeIngestion:
    """Application Insights' ingestion endpoint (POST /v2.1/track), on localhost: it keeps every
    telemetry item the exporter sends and accepts them all."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.bodies: list[str] = []
        ingestion = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                items = json.loads(body)
                ingestion.bodies.append(body.decode())
                ingestion.items.extend(items)
                answer = json.dumps(
                    {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def wait_for(self, base_type: str, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [i for i in list(self.items) if i["data"]["baseType"] == base_type]
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"no {base_type} received; got {[i['name'] for i in self.items]}")

    def __enter__(self) -> FakeIngestion:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def exported_texts(item: dict[str, Any]) -> list[str]:
    """What an item says about the request: names, URLs, statements, properties, operation tags
    (not its random ids and timestamps)."""
    base = item["data"]["baseData"]
    texts = [str(v) for k, v in base.items() if k not in ("id", "duration", "ver")]
    return texts + [str(v) for k, v in item.get("tags", {}).items() if k.startswith("ai.operation")]


@pytest.mark.slow
def test_api_startup_exports_scrubbed_telemetry_to_application_insights(
    tmp_path: Path, demo_bundle: Path, demo_clients: Path
) -> None:
    """The app setting of deploy/azure/main.bicep turns telemetry on under the production
    command; requests arrive with route templates, the audit write as a dependency, and no
    client id, query string, key or caller address."""
    package = load_stage_module().stage(
        "api", tmp_path / "api", bundle=demo_bundle, clients=demo_clients
    )
    cid = int(pd.read_parquet(demo_clients, columns=["SK_ID_CURR"])["SK_ID_CURR"].iloc[0])
    key = "delivery-telemetry-key"
    with FakeIngestion() as ingestion:
        env = base_env(tmp_path)
        env.update(
            {
                "SCORING_BUNDLE": "bundle",
                "SCORING_CLIENTS": "clients",
                "API_KEYS": f"delivery:{key}",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
                "API_WARM_CACHE": "false",
                "APPLICATIONINSIGHTS_CONNECTION_STRING": (
                    "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
                    f"IngestionEndpoint={ingestion.url}"
                ),
                # Offline: no statsbeat to Microsoft's endpoints, a short export delay, retries
                # stored under tmp_path.
                "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "TMPDIR": str(tmp_path),
            }
        )
        port = free_port()
        log = tmp_path / "api.log"
        with serve(with_port(STARTUP_COMMANDS["api"], port), package, env, log) as process:
            base = f"http://127.0.0.1:{port}"
            wait_for_health(f"{base}/health", process, STARTUP_TIMEOUT_S)
            response = httpx.get(
                f"{base}/v1/clients/{cid}/score?lang=fr", headers={"X-API-Key": key}, timeout=30
            )
            assert response.status_code == 200, response.text
            assert response.json()["client_id"] == cid
            requests = ingestion.wait_for("RequestData", timeout=60)
            dependencies = ingestion.wait_for("RemoteDependencyData", timeout=10)
    (request,) = requests  # /health is not traced
    data = request["data"]["baseData"]
    assert data["name"] == "GET /v1/clients/{client_id}/score"
    assert data["url"] == f"{base}/v1/clients/{{client_id}}/score"
    assert data["responseCode"] == "200"
    assert request["tags"]["ai.cloud.role"] == "scoring-api"
    assert "ai.location.ip" not in request["tags"]
    inserts = [d for d in dependencies if "INSERT" in d["data"]["baseData"].get("data", "")]
    assert inserts, [d["data"]["baseData"]["name"] for d in dependencies]
    assert inserts[0]["tags"]["ai.operation.id"] == request["tags"]["ai.operation.id"]
    for item in ingestion.items:
        for text in exported_texts(item):
            assert str(cid) not in text, text
            assert "lang=fr" not in text, text
    assert all(key not in body for body in ingestion.bodies)
