"""Shared helpers of the delivery tests: the canonical startup commands, tools, the stage script."""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
DEPLOY = REPO_ROOT / "deploy"
BICEP = DEPLOY / "azure" / "main.bicep"
APPS = ("api", "dashboard")

# The exact startup commands (the spec). Every place that starts an app in production
# (workflow, IaC, Dockerfile) must carry exactly these strings; tests check each against them.
STARTUP_COMMANDS = {
    "api": "gunicorn -c python:api.server -w 2 --bind 0.0.0.0:8000 api.main:app",
    "dashboard": (
        "python -m streamlit run dashboard/app.py --server.port 8000 --server.address 0.0.0.0"
        " --server.headless true"
    ),
}
HEALTH_PATHS = {"api": "/health", "dashboard": "/_stcore/health"}
PRODUCTION_PORT = 8000


def tool(name: str) -> str:
    """Path of a validator from requirements-delivery.txt: next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise AssertionError(
            f"{name} is not installed: pip install -r requirements-delivery.txt"
            " (requirements-dev.txt includes it)"
        )
    return found


def run_tool(
    *args: str, cwd: Path = REPO_ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def with_port(command: str, port: int) -> list[str]:
    """The startup command as argv, with its one production port replaced by `port`."""
    argv = shlex.split(command)
    hits = [i for i, arg in enumerate(argv) if arg.split(":")[-1] == str(PRODUCTION_PORT)]
    assert len(hits) == 1, f"expected one port {PRODUCTION_PORT} in {command!r}"
    index = hits[0]
    argv[index] = argv[index].rsplit(str(PRODUCTION_PORT), 1)[0] + str(port)
    return argv


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_health(url: str, process: subprocess.Popen[bytes], timeout: float) -> httpx.Response:
    """Poll `url` until it answers 200; fail early if the server process exits."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode} before {url} was up")
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response
            last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as error:
            last_error = repr(error)
        time.sleep(0.5)
    raise AssertionError(f"{url} not healthy after {timeout:.0f}s: {last_error}")


def load_stage_module() -> ModuleType:
    """Import deploy/stage.py (a script, not a package)."""
    name = "deploy_stage"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, DEPLOY / "stage.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


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
    mine = ("SCORING_", "API_", "METRICS_", "PROMETHEUS_", "REDIS_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(mine)}
    keep.pop("PYTHONPATH", None)  # the staged folder alone must be importable
    keep["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{keep.get('PATH', '')}"
    keep["HOME"] = str(tmp_path / "home")
    return keep
