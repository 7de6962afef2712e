"""Typed configuration of the API, read from environment variables with safe defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the API. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    scoring_bundle: Path = Path("var/demo/bundle")
    # A registered model instead of a path, e.g. models:/credit-scoring@champion (MLflow
    # registry at MLFLOW_TRACKING_URI, default ./mlruns/mlflow.db); copied under the cache.
    scoring_model_uri: str = ""
    scoring_registry_cache: Path = Path("var/registry")
    # application_test file, or a folder with it and the clients' auxiliary tables (bureau...)
    scoring_clients: Path = Path("var/demo/data")
    scoring_cache: Path = Path("var/cache")
    # "name:key,name2:sha256:<hex>". Empty (and no API_KEYS_FILE) means: refuse to start unless
    # API_ALLOW_DEMO_KEY=1.
    api_keys: str = ""
    # More keys, one entry per line, re-read when the file changes: rotation and revocation
    # without a restart (api/auth.py). Looked at no more often than every API_KEYS_RELOAD_S.
    api_keys_file: Path | None = None
    api_keys_reload_s: float = Field(default=2.0, gt=0, le=60)
    api_allow_demo_key: bool = False
    # Bearer token of GET /metrics; empty: /metrics answers 404 (off).
    metrics_token: str = ""
    # Browser origins allowed to call the API (CORS), comma-separated, e.g. the dashboard's
    # https://advisor-dashboard.azurewebsites.net; empty: no cross-origin call is allowed.
    api_cors_origins: str = ""
    database_url: str = "sqlite:///var/audit.db"
    audit_table: str = "decision_audit"
    # An audited request waits at most AUDIT_WAIT_S for its row to be committed, then answers
    # 503 with Retry-After (never a decision without its row); at most AUDIT_QUEUE_MAX requests
    # wait for the audit writer, the next ones get 503 at once (api/audit.py).
    audit_wait_s: float = Field(default=1.0, gt=0, le=30)
    audit_queue_max: int = Field(default=10_000, ge=1)
    # Bounds of every audit database call (api/audit.py make_engine): opening a connection,
    # waiting for one from the pool, a statement or a commit on the server (PostgreSQL
    # statement_timeout), waiting for a lock, staying idle inside a transaction; SQLite waits at
    # most DB_BUSY_TIMEOUT_S for a writer's lock. A stalled server (no answer at all) is bounded
    # by the caller's wait, not by these.
    db_connect_timeout_s: int = Field(default=2, ge=1, le=30)
    db_pool_timeout_s: float = Field(default=2.0, gt=0, le=30)
    db_statement_timeout_ms: int = Field(default=1000, ge=1, le=60_000)
    db_lock_timeout_ms: int = Field(default=500, ge=1, le=60_000)
    db_busy_timeout_s: float = Field(default=1.0, gt=0, le=30)
    # /ready and /health probe the audit database and the model at most every READY_CACHE_S,
    # each probe bounded by READY_PROBE_TIMEOUT_S (a stalled database answers 503 that fast).
    ready_probe_timeout_s: float = Field(default=1.0, gt=0, le=10)
    ready_cache_s: float = Field(default=2.0, ge=0, le=60)
    redis_url: str | None = None
    # Connect and socket timeout of every Redis call (a Redis in the region answers in ~1 ms; on
    # a starved CPU, 0.1 s gave false timeouts); after REDIS_BREAKER_FAILURES failures in a row
    # the limiter counts in memory (per worker) for REDIS_BREAKER_COOLDOWN_S, then tries Redis
    # again (api/ratelimit.py).
    redis_timeout_s: float = Field(default=0.25, gt=0, le=1)
    redis_breaker_failures: int = Field(default=3, ge=1)
    redis_breaker_cooldown_s: float = Field(default=5.0, gt=0)
    # Requests per minute and key; 0 disables limiting.
    api_rate_limit: int = Field(default=6000, ge=0)
    # Expensive requests (counterfactual, on-the-fly explanation, batch) running at once per
    # worker and per class; one more answers 503 with Retry-After (api/costly.py). They run
    # API_COSTLY_NICE steps below the worker's CPU priority, so cheap routes go first. 1 per
    # worker: with 2 workers on 2 cores, two searches already fill the machine
    # (bench/results/load.md).
    api_costly_concurrency: int = Field(default=1, ge=1, le=64)
    api_costly_nice: int = Field(default=10, ge=0, le=19)
    # Slices of the forest one on-the-fly explanation is computed in at once, on the costly
    # threads (SHAP is additive over trees: same values, ~1/n of the latency). 0: 2 when the
    # worker may use two or more CPUs and the forest is large enough to gain (ScoringModel.
    # explain_parts), else 1.
    api_explain_parts: int = Field(default=0, ge=0, le=8)
    # How long a thread holding the GIL (a counterfactual search is Python-heavy) keeps it
    # before the event loop may take it back (sys.setswitchinterval; Python's default is 5 ms,
    # which a cheap request pays at each of its waits for the GIL while a search runs).
    api_gil_switch_ms: float = Field(default=1.0, gt=0, le=100)
    api_batch_max: int = Field(default=1000, ge=1)
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # POST /v1/predict/batch only: API_BATCH_MAX full records (a record of ~800 features is
    # ~40 KB of JSON) must fit.
    api_max_batch_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Fill the batch cache (scores + SHAP of every stored client) in a background thread.
    api_warm_cache: bool = True
    api_log_requests: bool = True
    # GET /v1/model/drift (docs/drift.md): the feature values (never ids) of the last
    # API_DRIFT_WINDOW_ROWS applications scored, at most API_DRIFT_WINDOW_S old, kept in memory
    # per worker; no verdict under API_DRIFT_MIN_ROWS rows; the summary is recomputed at most
    # every API_DRIFT_REFRESH_S seconds unless API_DRIFT_REFRESH_ROWS rows arrived.
    api_drift_window_rows: int = Field(default=5000, ge=10, le=100_000)
    api_drift_window_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    api_drift_min_rows: int = Field(default=500, ge=1)
    api_drift_refresh_s: float = Field(default=60.0, ge=0)
    api_drift_refresh_rows: int = Field(default=500, ge=1)
    # Application Insights (api/telemetry.py): requests, dependencies and exceptions are exported
    # only when this is set; App Service gets it from deploy/azure/main.bicep.
    applicationinsights_connection_string: str = ""
