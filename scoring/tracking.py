"""MLflow tracking of a training run: parameters, metrics and the bundle as artifacts.

Local ./mlruns by default (a SQLite store, mlruns/mlflow.db, artifacts beside it: MLflow 3 put
its plain-file store in maintenance mode); MLFLOW_TRACKING_URI is honoured. Tracking must never
lose a trained bundle: a tracking failure is reported and the bundle stays on disk.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scoring.metadata import BundleMetadata

log = logging.getLogger(__name__)
EXPERIMENT = "pret-a-depenser-scoring"


def _flat(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in values.items() if isinstance(v, int | float | str | bool)}


def default_tracking_uri(root: Path = Path("mlruns")) -> str:
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(root / 'mlflow.db').resolve()}"


def log_run(
    bundle_dir: Path, metadata: BundleMetadata, tracking_uri: str | None = None
) -> str | None:
    """Log one run; returns its id, or None when tracking failed (the reason is logged)."""
    try:
        import mlflow

        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
        if uri.startswith("file:") or "://" not in uri:
            # MLflow 3 refuses a file store unless opted in; a user's file: URI is honoured.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(EXPERIMENT)
        with mlflow.start_run(run_name=metadata.version) as run:
            mlflow.log_params(_flat("", metadata.params))
            mlflow.log_params(_flat("cost_", metadata.cost.model_dump()))
            mlflow.log_params({"threshold": metadata.threshold, "folds": metadata.cv.folds})
            mlflow.log_metrics(metadata.metrics.model_dump())
            mlflow.set_tags(
                {
                    "model_version": metadata.version,
                    "data_fingerprint": metadata.data.fingerprint,
                }
            )
            mlflow.log_artifacts(str(bundle_dir), artifact_path="bundle")
            return str(run.info.run_id)
    except Exception as exc:  # tracking is a record, not a gate: keep the bundle, say why
        log.warning("MLflow tracking failed: %s", exc)
        return None
