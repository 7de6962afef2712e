"""What the app holds while it runs, built once by the lifespan: keys, model, clients, nearest-
neighbour index, audit log, rate limiter, and the background fill of the batch cache."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from api.audit import AuditLog, DatabaseTimeouts
from api.auth import KeySource, load_keys
from api.costly import CostClass, CostlyPool, Gate, gates
from api.drift_store import DriftStore
from api.observability import Metrics
from api.ratelimit import RateLimiter, make_limiter
from api.readiness import Probe
from api.settings import Settings
from api.store import ClientStore
from scoring.allocator import release_heap
from scoring.batch import score_clients
from scoring.clients import ClientBase
from scoring.drift import REFERENCE_ROWS, reference_features
from scoring.drift_window import ServedWindow, WindowSettings
from scoring.errors import BundleError
from scoring.model import Explanation, ScoringModel
from scoring.neighbors import NeighborIndex
from scoring.schema import ID
from scoring.shared import SharedTables, recall_source, remember_source, share, source_digest

log = logging.getLogger("api.services")
NEIGHBOR_FEATURES = 30  # similarity on the most important features only


class StartupError(RuntimeError):
    """The API cannot start; the message is the one-line reason."""


@dataclass
class Services:
    settings: Settings
    keys: KeySource
    model: ScoringModel
    store: ClientStore
    neighbors: NeighborIndex
    audit: AuditLog
    limiter: RateLimiter
    metrics: Metrics
    drift: ServedWindow | None = None  # None: the bundle's reference cannot serve drift
    drift_unavailable: str = ""  # why drift is None
    probe: Probe = field(init=False)
    gates: dict[CostClass, Gate] = field(init=False)
    costly: CostlyPool = field(init=False)
    explain_parts: int = field(init=False)  # forest slices of one on-the-fly explanation
    warmer: threading.Thread | None = field(default=None)
    # stored clients already in this worker's drift window (ids in memory only, never stored)
    counted: OrderedDict[int, None] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.gates = gates(self.settings.api_costly_concurrency)
        self.explain_parts = self.settings.api_explain_parts or self.model.explain_parts(
            len(os.sched_getaffinity(0))
        )
        self.model.forest_slices(self.explain_parts)  # built now, before workers fork
        self.costly = CostlyPool(
            self.settings.api_costly_concurrency, self.settings.api_costly_nice, self.explain_parts
        )
        sys.setswitchinterval(self.settings.api_gil_switch_ms / 1000)
        self.probe = Probe(
            {"database": self.audit.ping, "model": self.model_answers},
            timeout_s=self.settings.ready_probe_timeout_s,
            cache_s=self.settings.ready_cache_s,
        )

    def explain_now(self, x: np.ndarray) -> Explanation:
        """Exact SHAP of one model-ready row, on the calling (costly) thread, the forest split
        over the costly pool in ``explain_parts`` slices."""
        return self.model.explain(x, executor=self.costly.executor, parts=self.explain_parts)

    def served(self, rows: np.ndarray) -> None:
        """Model-ready rows of applications just scored (their decisions already audited): into
        the drift window (values only). Queued for the audit writer; never fails the request."""
        if self.drift is None:
            return
        try:
            self.drift.add(rows)
        except Exception as exc:
            log.warning("drift rows not kept: %s", type(exc).__name__)

    def served_client(self, client_id: int) -> None:
        """A stored client just scored or explained: into the drift window once per worker, so
        an advisor reopening a file (score, explanation, another language) does not weigh that
        application again. The ids stay in this worker's memory, bounded by the window's size."""
        if self.drift is None or client_id in self.counted:
            return
        self.counted[client_id] = None
        if len(self.counted) > self.settings.api_drift_window_rows:
            self.counted.popitem(last=False)
        self.served(self.store.feature_row(client_id))

    def model_answers(self) -> bool:
        """The loaded model still scores (a row of unknowns) to a probability."""
        row = np.full((1, len(self.model.feature_names)), np.nan)
        probability = float(self.model.predict_proba(row)[0])
        return 0.0 <= probability <= 1.0

    @property
    def cache_state(self) -> Literal["warming", "ready"]:
        return "ready" if self.store.batch is not None else "warming"

    async def close(self) -> None:
        self.probe.close()
        self.costly.close()
        self.audit.stop()
        await self.limiter.close()
        gc.unfreeze()  # what this app froze can be collected again once it is dropped


def bundle_path(settings: Settings) -> Path:
    """The bundle folder: SCORING_MODEL_URI (a registry version) when set, else SCORING_BUNDLE."""
    if not settings.scoring_model_uri:
        return settings.scoring_bundle
    from scoring.tracking import resolve

    return resolve(settings.scoring_model_uri, settings.scoring_registry_cache)


def build(settings: Settings, metrics: Metrics) -> Services:
    """Load everything; raises StartupError (one line) or a ScoringError naming what is wrong."""
    started = time.perf_counter()
    keys = load_keys(
        settings.api_keys,
        settings.api_keys_file,
        settings.api_keys_reload_s,
        settings.api_allow_demo_key,
    )
    model = ScoringModel.load(bundle_path(settings))
    phases = {"model": time.perf_counter() - started}
    if not settings.scoring_clients.exists():
        raise StartupError(f"clients file or folder not found: {settings.scoring_clients}")
    mark = time.perf_counter()
    digest, recalled = recall_clients(settings, model)
    base = (
        ClientBase(recalled[0].applications, recalled[0].aggregates, model.builder, recalled[1])
        if recalled is not None
        else ClientBase.load(settings.scoring_clients, model.builder)
    )
    phases["clients"] = time.perf_counter() - mark
    absent = sorted(set(model.builder.aux_tables) - set(base.tables))
    if absent:
        # Not fatal (a client may have no history), but every such feature is then missing for
        # every client: say so once, loudly, since it changes decisions.
        log.warning(
            "the model was trained with auxiliary tables that %s lacks: %s",
            settings.scoring_clients,
            ", ".join(absent),
        )
    mark = time.perf_counter()
    store = ClientStore(base)
    phases["features"] = time.perf_counter() - mark
    mark = time.perf_counter()
    ranked = [name for name in model.importance if name in model.reference.columns]
    features = ranked[:NEIGHBOR_FEATURES] or None
    if recalled is not None:  # already the shared maps
        neighbors = use_tables(model, store, recalled[0])
    else:
        neighbors = share_tables(settings, model, store, features, digest)
    release_heap()  # loading the tables left ~2 GiB of freed buffers held by the allocators
    phases["share"] = time.perf_counter() - mark
    audit = AuditLog(
        settings.database_url,
        settings.audit_table,
        database_timeouts(settings),
        wait_s=settings.audit_wait_s,
        queue_max=settings.audit_queue_max,
    )
    audit.start()
    limiter = make_limiter(
        settings.api_rate_limit,
        settings.redis_url,
        timeout_s=settings.redis_timeout_s,
        failures=settings.redis_breaker_failures,
        cooldown_s=settings.redis_breaker_cooldown_s,
        on_change=lambda state: metrics.ratelimit_degraded.set(state == "open"),
    )
    services = Services(settings, keys, model, store, neighbors, audit, limiter, metrics)
    try:
        services.drift = served_window(model, settings, audit)
    except BundleError as exc:  # an older bundle still serves scores; drift says why not
        services.drift_unavailable = str(exc)
        log.warning("drift monitoring off: %s", exc)
    log.info(
        "loaded model %s and %d clients%s in %.1f s (%s)",
        model.version,
        len(store),
        " (tables recalled from the shared maps)" if recalled is not None else "",
        time.perf_counter() - started,
        ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items()),
    )
    freeze_loaded()
    if settings.api_warm_cache:
        services.warmer = threading.Thread(
            target=_fill_cache, args=(services,), name="batch-cache", daemon=True
        )
        services.warmer.start()
    return services


def served_window(model: ScoringModel, settings: Settings, audit: AuditLog) -> ServedWindow:
    """The rolling sample of served applications, compared with the bundle's reference: its
    rows in the audit database, shared by every worker (api/drift_store.py)."""
    reference = reference_features(model.reference, model.feature_names, REFERENCE_ROWS)
    categorical = {f.name for f in model.metadata.features if f.dtype == "category"}
    store = DriftStore(
        audit.engine,
        audit.table.name,
        list(reference.columns),
        settings.api_drift_window_rows,
        settings.api_drift_window_s,
    )
    audit.attach_drift(store)
    return ServedWindow(reference, categorical, window_settings(settings), rows=store)


def window_settings(settings: Settings) -> WindowSettings:
    return WindowSettings(
        max_rows=settings.api_drift_window_rows,
        max_age_s=settings.api_drift_window_s,
        min_rows=settings.api_drift_min_rows,
        refresh_s=settings.api_drift_refresh_s,
        refresh_rows=settings.api_drift_refresh_rows,
    )


def recall_clients(
    settings: Settings, model: ScoringModel
) -> tuple[str | None, tuple[SharedTables, tuple[str, ...]] | None]:
    """The identity of the clients source, and the shared maps it gave an earlier worker (or
    start) with the same bundle and the same files, if any: then this worker neither reads nor
    aggregates the source (scoring.shared.recall_source)."""
    try:
        digest = source_digest(settings.scoring_clients, model.version)
    except OSError:
        return None, None
    return digest, recall_source(settings.scoring_cache, model.version, digest)


def share_tables(
    settings: Settings,
    model: ScoringModel,
    store: ClientStore,
    features: list[str] | None,
    digest: str | None = None,
) -> NeighborIndex:
    """Swap this worker's copies of the raw rows, the aggregates and the reference sample (and
    the neighbour index on it) for memory maps every worker shares (scoring.shared); the tables
    stay in memory, with a warning, where the cache folder cannot hold them. The maps are noted
    under the source's ``digest``, for the next workers to map them without reading it."""
    frames = {
        "applications": store.raw,
        "aggregates": store.base.aggregates,
        "reference": model.reference,
    }
    try:
        tables = share(settings.scoring_cache, model.version, frames, features)
        store.share(tables)
    except (OSError, ValueError) as exc:  # NotShareableError is a ValueError
        log.warning("tables kept in this worker's memory: %s", exc)
        return NeighborIndex.build(model.reference, features)
    if digest is not None:
        try:
            remember_source(
                settings.scoring_cache, model.version, digest, tables, store.base.tables
            )
        except OSError as exc:  # the next workers read the source, as this one did
            log.warning("shared tables not noted for the next workers: %s", exc)
    return use_tables(model, store, tables)


def use_tables(model: ScoringModel, store: ClientStore, tables: SharedTables) -> NeighborIndex:
    """Read the reference sample and the neighbour index from the shared maps (the store
    already reads its tables from them)."""
    model.reference = model.bundle.reference = tables.reference  # drops the in-memory copy
    return tables.neighbors


def database_timeouts(settings: Settings) -> DatabaseTimeouts:
    return DatabaseTimeouts(
        connect_s=settings.db_connect_timeout_s,
        pool_s=settings.db_pool_timeout_s,
        statement_ms=settings.db_statement_timeout_ms,
        lock_ms=settings.db_lock_timeout_ms,
        busy_s=settings.db_busy_timeout_s,
    )


def _fill_cache(services: Services) -> None:
    """Scores and SHAP values of every stored client, from the core's on-disk cache when it has
    them; until this is done, explanations are computed on the fly."""
    started = time.perf_counter()
    store = services.store
    try:
        features = pd.DataFrame(
            store.features, index=pd.Index(store.ids, name=ID), columns=store.feature_names
        )
        # Leave a core to the requests being served meanwhile.
        threads = max(1, (os.cpu_count() or 2) - 1)
        batch = score_clients(
            services.model, features, services.settings.scoring_cache, threads=threads
        )
        del features
        store.attach(batch)  # the store now reads the shared maps: its own copies are garbage
        release_heap()
        services.metrics.cache_ready.set(1)
        log.info("batch cache ready in %.1f s", time.perf_counter() - started)
    except Exception as exc:  # the API keeps serving, on the fly
        log.error("batch cache failed: %s: %s", type(exc).__name__, exc)


def freeze_loaded() -> None:
    """Move what is loaded by now (bundle, clients, catalogues: long-lived) out of the garbage
    collector's reach (``gc.freeze``). A request allocates thousands of containers (a 1,000-record
    batch ~10k: its parsed JSON, missing-name lists, audit entries), so full collections come
    every 10-20 batches; each one walked every live object of the app, 150-300 ms of CPU that
    stalled the worker (measured in-process: ~8 ms per batch on average), against 2-3 ms once the
    loaded objects are frozen. ``Services.close`` unfreezes."""
    gc.collect()
    gc.freeze()
