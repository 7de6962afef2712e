"""MLflow tracking and registry: every trained bundle is a run and a registered model version.

A run records parameters, metrics (the served model's and each compared candidate's), the
bundle as artifacts (model_card.json included) and is registered as a version of
`credit-scoring`; `promote` points the alias `champion` at a version, and `resolve` turns
`models:/credit-scoring@champion` (or `models:/credit-scoring/3`) into a local bundle folder
for the API. Browse with the full `mlflow` package (docs/model-card.md, README).

Local ./mlruns by default (a SQLite store, mlruns/mlflow.db, artifacts beside it: MLflow 3 put
its plain-file store in maintenance mode); MLFLOW_TRACKING_URI is honoured. Tracking must never
lose a trained bundle: a tracking failure is reported and the bundle stays on disk.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoring.errors import ScoringError

if TYPE_CHECKING:
    from scoring.metadata import BundleMetadata

log = logging.getLogger(__name__)
EXPERIMENT = "pret-a-depenser-scoring"
REGISTERED_MODEL = "credit-scoring"
CHAMPION = "champion"
MODELS_SCHEME = "models:/"


class RegistryError(ScoringError):
    """A registry request that cannot be met: unknown version or alias, bad URI, no mlflow."""


@dataclass(frozen=True)
class Tracked:
    run_id: str
    name: str | None  # registered model name; None when registration failed
    version: int | None

    def record(self, uri: str) -> dict[str, Any]:
        """What registry.json says: where this bundle is registered."""
        return {"name": self.name, "version": self.version, "run_id": self.run_id,
                "tracking_uri": uri}  # fmt: skip


def _flat(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in values.items() if isinstance(v, int | float | str | bool)}


def default_tracking_uri(root: Path = Path("mlruns")) -> str:
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(root / 'mlflow.db').resolve()}"


def tracking_uri(explicit: str | None = None) -> str:
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    if uri.startswith("file:") or "://" not in uri:
        # MLflow 3 refuses a file store unless opted in; a user's file: URI is honoured.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri


def _comparison_metrics(card: dict[str, Any] | None) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for row in (card or {}).get("comparison", []):
        for key in ("auc_mean", "auc_std", "business_cost", "threshold", "brier"):
            if isinstance(row.get(key), int | float):
                metrics[f"compare_{row['model']}_{key}"] = float(row[key])
    return metrics


def log_run(
    bundle_dir: Path, metadata: BundleMetadata, tracking_uri: str | None = None
) -> str | None:
    """Log and register one run; returns its id, or None when tracking failed (logged)."""
    tracked = track(bundle_dir, metadata, tracking_uri)
    return tracked.run_id if tracked else None


def track(bundle_dir: Path, metadata: BundleMetadata, uri: str | None = None) -> Tracked | None:
    """Log one run and register it as a model version; None when tracking failed (logged)."""
    try:
        import json

        import mlflow

        uri = tracking_uri(uri)
        card_file = Path(bundle_dir) / "model_card.json"
        card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.is_file() else None
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(EXPERIMENT)
        with mlflow.start_run(run_name=metadata.version) as run:
            mlflow.log_params(_flat("", metadata.params))
            mlflow.log_params(_flat("cost_", metadata.cost.model_dump()))
            mlflow.log_params({"threshold": metadata.threshold, "folds": metadata.cv.folds})
            mlflow.log_metrics(metadata.metrics.model_dump())
            mlflow.log_metrics(_comparison_metrics(card))
            mlflow.set_tags(
                {
                    "model_version": metadata.version,
                    "data_fingerprint": metadata.data.fingerprint,
                    "model": (card or {}).get("model", "lightgbm"),
                }
            )
            mlflow.log_artifacts(str(bundle_dir), artifact_path="bundle")
            if card is not None:
                mlflow.log_dict(card, "model_card.json")
            run_id, artifacts = str(run.info.run_id), str(run.info.artifact_uri)
    except Exception as exc:  # tracking is a record, not a gate: keep the bundle, say why
        log.warning("MLflow tracking failed: %s", exc)
        return None
    try:
        version = _register(uri, run_id, f"{artifacts}/bundle", metadata)
    except Exception as exc:  # the run is kept; say why the registry refused it
        log.warning("MLflow registration failed: %s", exc)
        return Tracked(run_id, None, None)
    return Tracked(run_id, REGISTERED_MODEL, version)


def _client(uri: str | None = None) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:  # the API image may lack it
        raise RegistryError(
            "the model registry needs mlflow-skinny (pip install -r requirements-train.txt)"
        ) from exc
    return MlflowClient(tracking_uri=tracking_uri(uri), registry_uri=tracking_uri(uri))


def _register(uri: str, run_id: str, source: str, metadata: BundleMetadata) -> int:
    client = _client(uri)
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(REGISTERED_MODEL)
    except MlflowException:
        client.create_registered_model(
            REGISTERED_MODEL, description="Prêt à dépenser: probability of default"
        )
    created = client.create_model_version(
        REGISTERED_MODEL, source, run_id=run_id, tags={"model_version": metadata.version}
    )
    return int(created.version)


def promote(version: int, uri: str | None = None, alias: str = CHAMPION) -> None:
    """Point `alias` (champion) at a registered version; an unknown version is refused."""
    from mlflow.exceptions import MlflowException

    client = _client(uri)
    try:
        client.get_model_version(REGISTERED_MODEL, str(version))
    except MlflowException as exc:
        raise RegistryError(
            f"--version {version}: no such version of {REGISTERED_MODEL} in {tracking_uri(uri)}"
        ) from exc
    client.set_registered_model_alias(REGISTERED_MODEL, alias, str(version))


def resolve(model_uri: str, dest: Path, uri: str | None = None) -> Path:
    """A local bundle folder for `models:/NAME@ALIAS` or `models:/NAME/VERSION`.

    The bundle is copied from the registry's artifacts into `dest/NAME-vVERSION` (reused when
    already there) with a registry.json saying which version it is."""
    from mlflow.exceptions import MlflowException

    if not model_uri.startswith(MODELS_SCHEME):
        raise RegistryError(f"SCORING_MODEL_URI must start with {MODELS_SCHEME}: {model_uri!r}")
    ref = model_uri[len(MODELS_SCHEME) :]
    client = _client(uri)
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            found = client.get_model_version_by_alias(name, alias)
        elif "/" in ref:
            name, number = ref.split("/", 1)
            found = client.get_model_version(name, number)
        else:
            raise RegistryError(f"{model_uri!r}: expected models:/NAME@ALIAS or models:/NAME/N")
    except MlflowException as exc:
        raise RegistryError(f"{model_uri}: not found in {tracking_uri(uri)}") from exc
    from mlflow.artifacts import download_artifacts

    from scoring.bundle import METADATA_FILE, write_registry

    folder = Path(dest) / f"{found.name}-v{found.version}"
    if not (folder / METADATA_FILE).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        download_artifacts(artifact_uri=found.source, dst_path=str(folder))
        nested = folder / "bundle"  # download keeps the artifact folder's name
        if nested.is_dir():
            for item in nested.iterdir():
                item.rename(folder / item.name)
            nested.rmdir()
    record = Tracked(str(found.run_id), str(found.name), int(found.version)).record(
        tracking_uri(uri)
    )
    write_registry(folder, {**record, "uri": model_uri, "aliases": list(found.aliases)})
    return folder
