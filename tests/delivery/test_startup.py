"""The exact production startup commands serve their health path.

Each app is staged by deploy/stage.py as App Service receives it, then started from that folder
with the exact startup command (only the port 8000 changed to a free one) and the app settings
of the IaC, and polled on its health path, as App Service's health check does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.delivery.support import (
    HEALTH_PATHS,
    STARTUP_COMMANDS,
    free_port,
    load_stage_module,
    wait_for_health,
    with_port,
)

STARTUP_TIMEOUT_S = 180


def test_with_port_changes_only_the_port() -> None:
    assert with_port(STARTUP_COMMANDS["api"], 5123) == [
        "gunicorn",
        "-k",
        "uvicorn_worker.UvicornWorker",
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


@contextmanager
def serve(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` in its own process group; stop the group (master and workers) afterwards."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def base_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment whose PATH finds this interpreter's `python` and `gunicorn` first."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SCORING_", "API_"))}
    keep.pop("PYTHONPATH", None)  # the staged folder alone must be importable
    keep["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{keep.get('PATH', '')}"
    keep["HOME"] = str(tmp_path / "home")
    return keep


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
