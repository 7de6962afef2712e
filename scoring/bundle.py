"""The versioned model bundle: one folder, every file checksummed in metadata.json.

Written to a temporary sibling folder then renamed, so a crash never leaves a half bundle under
the final name. Loading checks the format version, that every file exists and matches its
checksum, and that the files agree with each other, before anything is served.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pandas as pd
from pydantic import ValidationError

from scoring.ensemble import ENSEMBLE_FILE, Ensemble, single
from scoring.errors import BundleError
from scoring.features import FeatureBuilder
from scoring.metadata import BundleMetadata, first_error

FORMAT_VERSION = 1
MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
TRANSFORMER_FILE = "transformer.json"
STATS_FILE = "reference_stats.json"
IMPORTANCE_FILE = "importance.json"
REFERENCE_FILE = "reference.parquet"
CARD_FILE = "model_card.json"  # the comparison, choice and fairness of the served model
ENSEMBLE_DIR = "ensemble"  # a served model other than one booster (scoring/ensemble.py)
REGISTRY_FILE = "registry.json"  # written after registration; informative, not checksummed
CHECKSUMMED = [MODEL_FILE, TRANSFORMER_FILE, STATS_FILE, IMPORTANCE_FILE, REFERENCE_FILE]


@dataclass
class Bundle:
    """A bundle serves either one LightGBM booster (`model.txt`, today's form) or an `Ensemble`
    (boosters and/or a scorecard, in `ensemble/`): `served` is the model either way."""

    path: Path
    metadata: BundleMetadata
    booster: lgb.Booster | None
    builder: FeatureBuilder
    stats: dict[str, Any]
    importance: dict[str, float]
    reference: pd.DataFrame
    ensemble: Ensemble | None = None
    card: dict[str, Any] | None = None  # model_card.json: comparison, choice, fairness
    registry: dict[str, Any] | None = None  # registry.json: registered name and version

    @property
    def served(self) -> Ensemble:
        if self.ensemble is not None:
            return self.ensemble
        if self.booster is None:
            raise BundleError("a bundle needs a booster or an ensemble")
        return single(self.booster)

    @property
    def model_name(self) -> str:
        return str((self.card or {}).get("model", "lightgbm"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    path.write_text(
        json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8"
    )


def save_bundle(bundle: Bundle, out: Path) -> Path:
    """Write the bundle to `out` atomically (an existing bundle there is replaced whole)."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        names = [n for n in CHECKSUMMED if n != MODEL_FILE]
        if bundle.ensemble is not None:
            saved = bundle.ensemble.save(staging / ENSEMBLE_DIR)
            names += [f"{ENSEMBLE_DIR}/{name}" for name in saved]
        else:
            bundle.served.boosters[0].save_model(str(staging / MODEL_FILE))
            names.insert(0, MODEL_FILE)
        _write_json(staging / TRANSFORMER_FILE, bundle.builder.to_dict())
        _write_json(staging / STATS_FILE, bundle.stats)
        _write_json(staging / IMPORTANCE_FILE, bundle.importance)
        bundle.reference.to_parquet(staging / REFERENCE_FILE)
        if bundle.card is not None:
            _write_json(staging / CARD_FILE, bundle.card)
            names.append(CARD_FILE)
        files = {name: sha256(staging / name) for name in names}
        metadata = bundle.metadata.model_copy(
            update={"format_version": FORMAT_VERSION, "files": files}
        )
        _write_json(staging / METADATA_FILE, metadata.to_json())
        # A folder (mkdtemp made it 700) that the app's user must read; only its owner writes.
        os.chmod(staging, 0o755)  # nosec B103
        if out.exists():
            retired = out.with_name(f".{out.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    bundle.metadata = metadata
    bundle.path = out
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path.name} is unreadable or not valid JSON ({exc})") from exc


def read_metadata(path: Path) -> BundleMetadata:
    """metadata.json of a bundle, checked: folder, format version, then every field's type."""
    if not path.is_dir():
        raise BundleError(f"model bundle not found: {path}")
    meta_path = path / METADATA_FILE
    if not meta_path.is_file():
        raise BundleError(f"{path} is not a model bundle: {METADATA_FILE} is missing")
    raw = _read_json(meta_path)
    if not isinstance(raw, dict):
        raise BundleError(f"{METADATA_FILE} must hold a JSON object")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"bundle format {version!r} is not supported (this code reads format {FORMAT_VERSION});"
            " retrain with this version"
        )
    try:
        metadata = BundleMetadata.model_validate_json(meta_path.read_bytes())
    except ValidationError as exc:
        raise BundleError(f"bundle {path.name}: {METADATA_FILE} {first_error(exc)}") from None
    check_lightgbm(metadata)
    return metadata


def check_lightgbm(metadata: BundleMetadata) -> None:
    """The model was written by the installed LightGBM major version.

    A model file from another major version may load and still predict differently (format and
    default changes between majors), which would be a silent wrong decision: refuse it instead.
    """
    written = metadata.library_versions.get("lightgbm", "")
    if written.split(".")[0] != lgb.__version__.split(".")[0]:
        raise BundleError(
            f"bundle written with LightGBM {written or 'unknown'}, this install has "
            f"{lgb.__version__}: retrain, or install LightGBM {written.split('.')[0] or '?'}.x"
        )


def is_ensemble(metadata: BundleMetadata) -> bool:
    return f"{ENSEMBLE_DIR}/{ENSEMBLE_FILE}" in metadata.files


def verify_files(path: Path, metadata: BundleMetadata) -> None:
    """Every file present and unchanged since the bundle was written."""
    expected = metadata.files
    required = [n for n in CHECKSUMMED if not (n == MODEL_FILE and is_ensemble(metadata))]
    for name in dict.fromkeys([*required, *expected]):
        file = path / name
        if not file.is_file():
            raise BundleError(f"bundle {path.name}: {name} is missing")
        if name not in expected or sha256(file) != expected[name]:
            raise BundleError(f"bundle {path.name}: {name} is corrupt (checksum mismatch)")


def load_bundle(path: Path) -> Bundle:
    """Load and check a bundle; any problem is a BundleError with a one-line reason."""
    path = Path(path)
    metadata = read_metadata(path)
    verify_files(path, metadata)
    booster: lgb.Booster | None = None
    ensemble: Ensemble | None = None
    if is_ensemble(metadata):
        ensemble = Ensemble.load(path / ENSEMBLE_DIR)
        served_names = ensemble.feature_names
    else:
        try:
            booster = lgb.Booster(model_file=str(path / MODEL_FILE))
        except lgb.basic.LightGBMError as exc:
            raise BundleError(f"bundle {path.name}: {MODEL_FILE} is not a LightGBM model") from exc
        served_names = booster.feature_name()
    try:
        builder = FeatureBuilder.from_dict(_read_json(path / TRANSFORMER_FILE))
        reference = pd.read_parquet(path / REFERENCE_FILE)
    except (KeyError, TypeError, AttributeError, OSError, ValueError) as exc:
        raise BundleError(f"bundle {path.name}: unreadable transformer or reference") from exc
    if served_names != builder.feature_names:
        raise BundleError(f"bundle {path.name}: model and transformer disagree on the features")
    if [f.name for f in metadata.features] != builder.feature_names:
        raise BundleError(f"bundle {path.name}: metadata and transformer disagree on the features")
    return Bundle(
        path=path,
        metadata=metadata,
        booster=booster,
        builder=builder,
        stats=_read_json(path / STATS_FILE),
        importance={k: float(v) for k, v in _read_json(path / IMPORTANCE_FILE).items()},
        reference=reference,
        ensemble=ensemble,
        card=_read_json(path / CARD_FILE) if CARD_FILE in metadata.files else None,
        registry=_read_registry(path),
    )


def _read_registry(path: Path) -> dict[str, Any] | None:
    """registry.json when the bundle was registered (name, version); None otherwise."""
    file = path / REGISTRY_FILE
    if not file.is_file():
        return None
    data = _read_json(file)
    return data if isinstance(data, dict) else None


def write_registry(path: Path, record: dict[str, Any]) -> None:
    """Record where the bundle was registered (not checksummed: written after the bundle)."""
    _write_json(Path(path) / REGISTRY_FILE, record)
