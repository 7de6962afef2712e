"""gunicorn's configuration of the API (the production startup command):

    gunicorn -c python:api.server -w 2 --bind 0.0.0.0:8000 api.main:app

- Workers are uvicorn's, without the ``server: uvicorn`` banner (a name and version tell an
  attacker what to try).
- Prometheus multiprocess mode: before the workers start, PROMETHEUS_MULTIPROC_DIR names an
  empty folder (a fresh temporary one unless it is set) where each worker writes its metrics,
  so that one scrape of /metrics, whichever worker answers, counts the requests of all of them.
  A worker that exits is marked dead (its gauges drop out; its counts stay in the sums).

This module is read by the gunicorn master: it imports nothing of the app, and prometheus_client
only after the variable is set (the library picks its mode when it is first imported).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

worker_class = "api.server.Worker"
_created: list[Path] = []


class Worker(UvicornWorker):
    """uvicorn's gunicorn worker, without the Server header."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **UvicornWorker.CONFIG_KWARGS,
        "server_header": False,
    }


def on_starting(server: Any) -> None:
    """Give the workers an empty metrics folder (the master runs this before forking them)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # a previous run's values would be added to ours
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="api-metrics-"))
        _created.append(folder)
        os.environ[MULTIPROC_ENV] = str(folder)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    for folder in _created:
        shutil.rmtree(folder, ignore_errors=True)
