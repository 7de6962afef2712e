"""The versioned model bundle: one folder, every file (metadata.json included) listed with its
size and sha256 in manifest.json, optionally signed (HMAC-SHA256) with SCORING_BUNDLE_KEY.

Written to a temporary sibling folder then renamed, so a crash never leaves a half bundle under
the final name. Loading verifies the manifest (format, signature when a key is set), that the
folder holds exactly the listed files, each unchanged, before reading any of them; then that the
files agree with each other. Any edit, truncation, removal or extra file is refused naming the
file (BundleIntegrityError).

Without a key the manifest proves the files are whole and consistent (an accident, a partial
copy, a hand edit of one file); only the signature proves who wrote them: set the key where
bundles are built and where they are served.
"""

from __future__ import annotations

import hashlib
import hmac
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
from scoring.errors import BundleError, BundleIntegrityError
from scoring.features import FeatureBuilder
from scoring.metadata import BundleMetadata, first_error

FORMAT_VERSION = 2
KEY_ENV = "SCORING_BUNDLE_KEY"
MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
TRANSFORMER_FILE = "transformer.json"
STATS_FILE = "reference_stats.json"
IMPORTANCE_FILE = "importance.json"
REFERENCE_FILE = "reference.parquet"
CARD_FILE = "model_card.json"  # the comparison, choice and fairness of the served model
ENSEMBLE_DIR = "ensemble"  # a served model other than one booster (scoring/ensemble.py)
REGISTRY_FILE = "registry.json"  # written after registration; informative, not checksummed
# Every bundle has these; its model is model.txt (one booster) or the files of ensemble/; a
# model card is optional. The manifest lists exactly the files written, each checksummed.
CHECKSUMMED = [
    MODEL_FILE,
    METADATA_FILE,
    TRANSFORMER_FILE,
    STATS_FILE,
    IMPORTANCE_FILE,
    REFERENCE_FILE,
]
ALWAYS = [name for name in CHECKSUMMED if name != MODEL_FILE]
UNLISTED = {MANIFEST_FILE, REGISTRY_FILE}
REBUILD = "rebuild it with this version (python -m scoring train, or make demo)"


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
        names = [n for n in CHECKSUMMED if n not in (MODEL_FILE, METADATA_FILE)]
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
        metadata = bundle.metadata.model_copy(update={"format_version": FORMAT_VERSION})
        _write_json(staging / METADATA_FILE, metadata.to_json())
        names.insert(1, METADATA_FILE)
        _write_json(staging / MANIFEST_FILE, build_manifest(staging, bundle_key(), names))
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


def bundle_key() -> bytes | None:
    """The signing key from SCORING_BUNDLE_KEY, or None when it is unset or empty."""
    key = os.environ.get(KEY_ENV, "")
    return key.encode("utf-8") if key else None


def _signature(files: dict[str, Any], key: bytes) -> str:
    body = json.dumps({"format_version": FORMAT_VERSION, "files": files}, sort_keys=True)
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def build_manifest(folder: Path, key: bytes | None, names: list[str]) -> dict[str, Any]:
    """Size and sha256 of every bundle file (`names`, relative paths), signed when a key is
    given."""
    files = {
        name: {"size": (folder / name).stat().st_size, "sha256": sha256(folder / name)}
        for name in names
    }
    manifest: dict[str, Any] = {"format_version": FORMAT_VERSION, "files": files}
    if key is not None:
        manifest["hmac_sha256"] = _signature(files, key)
    return manifest


def _old_format_message(path: Path, version: object) -> str:
    return (
        f"bundle {path.name}: bundle format {version!r} is not supported (this code reads format "
        f"{FORMAT_VERSION}, whose manifest covers metadata.json); {REBUILD}"
    )


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """The manifest's file entries, after its format and (when a key is set) its signature."""
    if not path.is_dir():
        raise BundleError(f"model bundle not found: {path}")
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        meta_path = path / METADATA_FILE
        if not meta_path.is_file():
            raise BundleError(f"{path} is not a model bundle: {MANIFEST_FILE} is missing")
        raw = _read_json(meta_path)
        version = raw.get("format_version") if isinstance(raw, dict) else None
        if version != FORMAT_VERSION:
            raise BundleError(_old_format_message(path, version))
        raise BundleIntegrityError(path.name, MANIFEST_FILE, "is missing")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BundleIntegrityError(path.name, MANIFEST_FILE, "is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise BundleIntegrityError(path.name, MANIFEST_FILE, "must hold a JSON object")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(_old_format_message(path, manifest.get("format_version")))
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
        for entry in files.values()
    ):
        raise BundleIntegrityError(
            path.name, MANIFEST_FILE, "is malformed: files must map names to size and sha256"
        )
    _check_signature(path, manifest, files)
    _check_listing(path, set(files))
    return files


def _check_listing(path: Path, listed: set[str]) -> None:
    """The manifest lists every file a bundle needs, one model, and nothing unknown."""
    ensemble = any(name.startswith(f"{ENSEMBLE_DIR}/") for name in listed)
    model = {f"{ENSEMBLE_DIR}/{ENSEMBLE_FILE}"} if ensemble else {MODEL_FILE}
    expected = {*ALWAYS, *model}
    for name in sorted(expected - listed):
        raise BundleIntegrityError(path.name, MANIFEST_FILE, f"does not list {name}")
    for name in sorted(listed - expected):
        optional = name == CARD_FILE or (ensemble and name.startswith(f"{ENSEMBLE_DIR}/"))
        if not optional:
            raise BundleIntegrityError(path.name, MANIFEST_FILE, f"lists an unknown file {name}")


def _check_signature(path: Path, manifest: dict[str, Any], files: dict[str, Any]) -> None:
    key, signature = bundle_key(), manifest.get("hmac_sha256")
    if key is None:
        if signature is not None:
            raise BundleIntegrityError(
                path.name, MANIFEST_FILE, f"is signed but {KEY_ENV} is not set: set the key"
            )
        return
    if signature is None:
        raise BundleIntegrityError(
            path.name, MANIFEST_FILE, f"is not signed, and {KEY_ENV} requires a signed bundle"
        )
    if not isinstance(signature, str) or not hmac.compare_digest(signature, _signature(files, key)):
        raise BundleIntegrityError(
            path.name, MANIFEST_FILE, f"signature does not match (wrong {KEY_ENV}, or edited)"
        )


def verify_files(path: Path, files: dict[str, dict[str, Any]]) -> None:
    """The folder holds exactly the manifest's files, each of the listed size and checksum."""
    for child in sorted(path.rglob("*")):
        name = child.relative_to(path).as_posix()
        if child.is_dir() and any(n.startswith(f"{name}/") for n in files):
            continue
        if name not in UNLISTED and name not in files:
            raise BundleIntegrityError(path.name, name, "is not part of the bundle")
    for name in files:
        file = path / name
        if not file.is_file():
            raise BundleIntegrityError(path.name, name, "is missing")
        size, expected = file.stat().st_size, files[name]["size"]
        if size != expected:
            raise BundleIntegrityError(
                path.name, name, f"is truncated or extended ({size} bytes, manifest: {expected})"
            )
        if not hmac.compare_digest(sha256(file), files[name]["sha256"]):
            raise BundleIntegrityError(path.name, name, "was modified (checksum mismatch)")


def read_metadata(path: Path) -> BundleMetadata:
    """metadata.json of a bundle whose files verified: format version, then every field."""
    meta_path = path / METADATA_FILE
    raw = _read_json(meta_path)
    if not isinstance(raw, dict):
        raise BundleError(f"{METADATA_FILE} must hold a JSON object")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(_old_format_message(path, version))
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


def load_bundle(path: Path) -> Bundle:
    """Load and check a bundle; any problem is a BundleError with a one-line reason."""
    path = Path(path)
    files = read_manifest(path)
    verify_files(path, files)
    metadata = read_metadata(path)
    booster: lgb.Booster | None = None
    ensemble: Ensemble | None = None
    if MODEL_FILE not in files:
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
        card=_read_json(path / CARD_FILE) if CARD_FILE in files else None,
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
