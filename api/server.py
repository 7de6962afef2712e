"""gunicorn's configuration of the API (the production startup command):

    gunicorn -c python:api.server -w 2 --bind 0.0.0.0:8000 api.main:app

- Workers are uvicorn's, without the ``server: uvicorn`` banner (a name and version tell an
  attacker what to try).
- Prometheus multiprocess mode: before the workers start, PROMETHEUS_MULTIPROC_DIR names an
  empty folder (a fresh temporary one unless it is set) where each worker writes its metrics,
  so that one scrape of /metrics, whichever worker answers, counts the requests of all of them.
  A worker that exits is marked dead (its gauges drop out; its counts stay in the sums).

- The libraries (pandas, numpy, pyarrow, LightGBM, FastAPI, the core) are imported by the master
  before it forks, and frozen out of the garbage collector's reach (``gc.freeze``): the workers
  share those pages copy-on-write instead of importing ~140 MiB of modules each. The app itself,
  its settings and its data are still loaded by each worker (the data from shared memory maps,
  scoring/shared.py and scoring/batch.py).

This module is read by the gunicorn master: it imports nothing of the app at load time, and
prometheus_client only after the variable is set (the library picks its mode when it is first
imported).
"""

from __future__ import annotations

import gc
import importlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker

from scoring.allocator import bound_allocators

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
    bound_allocators()
    preload()


# The app's modules and, through them, its libraries; then what a worker imports lazily while it
# starts (reading Parquet, the audit table's migrations), listed from sys.modules after a start.
PRELOADED = (
    "api.app",
    "api.services",
    "api.migrate",
    "alembic.command",
    "alembic.runtime.migration",
    "pyarrow.parquet",
    "pyarrow.dataset",
    "pyarrow.pandas_compat",
    "scoring.resources",
)


def preload() -> None:
    """Import the app's libraries once, in the master, so that forked workers share them; what
    they import is frozen so that collections in the workers leave those pages shared."""
    for module in PRELOADED:
        importlib.import_module(module)
    gc.collect()
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    for folder in _created:
        shutil.rmtree(folder, ignore_errors=True)
