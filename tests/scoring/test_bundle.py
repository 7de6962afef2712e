"""Model bundle: round trip, complete metadata, every kind of corruption caught, atomic writes."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from scoring.bundle import (
    CARD_FILE,
    CHECKSUMMED,
    FORMAT_VERSION,
    KEY_ENV,
    MANIFEST_FILE,
    METADATA_FILE,
    MODEL_FILE,
    TRANSFORMER_FILE,
    load_bundle,
    save_bundle,
    sha256,
)
from scoring.errors import BundleError, BundleIntegrityError
from scoring.model import ScoringModel


@pytest.fixture
def bundle_copy(demo_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the demo bundle, free to damage."""
    return Path(shutil.copytree(demo_bundle, tmp_path / "bundle"))


def _metadata(path: Path) -> dict:
    return json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))


def _manifest(path: Path) -> dict:
    return json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))


def _write_manifest(path: Path, manifest: dict) -> None:
    (path / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")


def _reseal(path: Path, name: str) -> None:
    """Update a file's manifest entry after changing it, to reach the checks behind it (what
    an attacker can do when bundles are not signed)."""
    manifest = _manifest(path)
    manifest["files"][name] = {"size": (path / name).stat().st_size, "sha256": sha256(path / name)}
    _write_manifest(path, manifest)


def _write_metadata(path: Path, metadata: dict) -> None:
    """Edit metadata.json and reseal it, to reach the checks on its contents."""
    (path / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")
    _reseal(path, METADATA_FILE)


def _bundle_error(path: Path) -> str:
    with pytest.raises(BundleError) as caught:
        load_bundle(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- round trip and contents ----------------------------------------------------------------


def test_round_trip_keeps_predictions_and_metadata(
    demo_bundle: Path, tmp_path: Path, sample_rows: np.ndarray
) -> None:
    original = load_bundle(demo_bundle)
    copy_path = save_bundle(original, tmp_path / "again")
    assert copy_path == (tmp_path / "again").resolve()
    reloaded = load_bundle(copy_path)
    before = ScoringModel(load_bundle(demo_bundle))
    after = ScoringModel(reloaded)
    np.testing.assert_array_equal(
        before.predict_proba(sample_rows), after.predict_proba(sample_rows)
    )
    np.testing.assert_array_equal(
        before.contributions(sample_rows), after.contributions(sample_rows)
    )
    assert reloaded.metadata == original.metadata
    assert reloaded.builder.to_dict() == original.builder.to_dict()
    assert reloaded.importance == original.importance
    assert reloaded.stats == original.stats
    assert reloaded.reference.equals(original.reference)


def test_metadata_has_every_documented_field(demo_bundle: Path) -> None:
    metadata = load_bundle(demo_bundle).metadata
    assert metadata.format_version == FORMAT_VERSION
    assert re.fullmatch(r"hc-\d{8}-\d{6}-[0-9a-f]{8}", metadata.version)
    raw = json.loads((demo_bundle / "metadata.json").read_text())
    assert datetime.fromisoformat(raw["trained_at"]) == metadata.trained_at
    assert metadata.trained_at.tzinfo is not None
    assert re.fullmatch(r"[0-9a-f]{64}", metadata.data.fingerprint)
    assert metadata.version.endswith(metadata.data.fingerprint[:8])
    assert 0 < metadata.threshold < 1
    assert metadata.cost.model_dump() == {"fn": 10.0, "fp": 1.0}
    metrics = metadata.metrics.model_dump()
    for name in ["auc", "auc_std", "business_cost", "recall", "precision", "brier"]:
        assert isinstance(metrics[name], float), name
    assert 0.5 < metrics["auc"] <= 1
    assert metrics["business_cost"] <= metrics["business_cost_accept_all"]
    assert metadata.cv.folds == 3
    assert len(metadata.cv.fold_auc) == 3
    assert {"python", "lightgbm", "numpy", "pandas"} <= set(metadata.library_versions)
    assert metadata.data.rows > 0
    assert set(_manifest(demo_bundle)["files"]) == {*CHECKSUMMED, CARD_FILE}  # with its card
    refer = metadata.refer
    assert refer.top_k == len(refer.features) > refer.max_missing >= 0
    assert set(refer.features) <= {f.name for f in metadata.features}

    features = metadata.features
    names = [f.name for f in features]
    assert names == load_bundle(demo_bundle).builder.feature_names
    for feature in features:
        assert feature.dtype in {"float", "binary", "category", "ordinal"}, feature
        assert isinstance(feature.description, str)
        assert feature.label
        assert feature.label_fr
        assert feature.sources
    by_name = {f.name: f for f in features}
    assert by_name["OWNS_CAR"].dtype == "binary"
    assert by_name["ORGANIZATION_TYPE"].dtype == "category"
    assert by_name["ORGANIZATION_TYPE"].levels
    assert by_name["EXT_SOURCE_2"].dtype == "float"
    assert by_name["EDUCATION_LEVEL"].dtype == "ordinal"
    assert (by_name["EDUCATION_LEVEL"].levels or [""])[0] == "Lower secondary"
    assert by_name["EXT_SOURCE_2"].description
    assert by_name["CREDIT_INCOME_RATIO"].actionable is True
    assert by_name["AGE_YEARS"].actionable is False


def test_reference_statistics_by_class(demo_bundle: Path) -> None:
    bundle = load_bundle(demo_bundle)
    stats = bundle.stats["features"]
    assert set(stats) == set(bundle.builder.feature_names)
    entry = stats["EXT_SOURCE_2"]
    by_target = entry["by_target"]
    assert len(by_target["bin_edges"]) == bundle.stats["bins"] + 1
    defaults = int(bundle.reference["TARGET"].sum())
    assert sum(by_target["counts_1"]) + by_target["missing_1"] == defaults
    assert 0 <= entry["missing_rate"] <= 1
    assert entry["quantiles"] == sorted(entry["quantiles"])


# --- corrupt bundles ------------------------------------------------------------------------


def test_missing_folder(tmp_path: Path) -> None:
    assert "model bundle not found" in _bundle_error(tmp_path / "nowhere")


def test_missing_metadata(bundle_copy: Path) -> None:
    (bundle_copy / METADATA_FILE).unlink()
    assert _bundle_error(bundle_copy).endswith("metadata.json is missing")


# --- integrity: the manifest covers metadata.json and is itself verified -----------------


def _integrity_error(path: Path) -> BundleIntegrityError:
    with pytest.raises(BundleIntegrityError) as caught:
        load_bundle(path)
    return caught.value


def test_threshold_edited_in_metadata_is_refused(bundle_copy: Path) -> None:
    metadata = _metadata(bundle_copy)
    metadata["threshold"] = 0.99
    (bundle_copy / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")
    error = _integrity_error(bundle_copy)
    assert error.file == METADATA_FILE
    assert "metadata.json" in str(error)


def test_same_size_edit_in_metadata_is_refused(bundle_copy: Path) -> None:
    text = (bundle_copy / METADATA_FILE).read_text(encoding="utf-8")
    threshold = str(_metadata(bundle_copy)["threshold"])
    edited = threshold[:-1] + ("1" if threshold[-1] != "1" else "2")
    (bundle_copy / METADATA_FILE).write_text(text.replace(threshold, edited, 1), "utf-8")
    assert str(_integrity_error(bundle_copy)).endswith(
        "metadata.json was modified (checksum mismatch)"
    )


def test_truncated_file_is_refused_with_its_sizes(bundle_copy: Path) -> None:
    data = (bundle_copy / MODEL_FILE).read_bytes()
    (bundle_copy / MODEL_FILE).write_bytes(data[: len(data) // 2])
    error = _integrity_error(bundle_copy)
    assert error.file == MODEL_FILE
    assert f"({len(data) // 2} bytes, manifest: {len(data)})" in str(error)


def test_unknown_extra_file_is_refused(bundle_copy: Path) -> None:
    (bundle_copy / "override.json").write_text("{}")
    error = _integrity_error(bundle_copy)
    assert error.file == "override.json"
    assert str(error) == "bundle bundle: override.json is not part of the bundle"


def test_missing_manifest_is_refused(bundle_copy: Path) -> None:
    (bundle_copy / MANIFEST_FILE).unlink()
    assert _integrity_error(bundle_copy).file == MANIFEST_FILE


@pytest.mark.parametrize("text", ["{not json", "[]", '{"format_version": 2, "files": [1]}'])
def test_unreadable_manifest_is_refused(bundle_copy: Path, text: str) -> None:
    (bundle_copy / MANIFEST_FILE).write_text(text)
    assert _integrity_error(bundle_copy).file == MANIFEST_FILE


def test_tampered_manifest_entry_is_refused(bundle_copy: Path) -> None:
    manifest = _manifest(bundle_copy)
    manifest["files"][TRANSFORMER_FILE]["sha256"] = "0" * 64
    _write_manifest(bundle_copy, manifest)
    assert _integrity_error(bundle_copy).file == TRANSFORMER_FILE


def test_manifest_listing_an_unknown_file_is_refused(bundle_copy: Path) -> None:
    manifest = _manifest(bundle_copy)
    manifest["files"]["extra.bin"] = {"size": 0, "sha256": "0" * 64}
    _write_manifest(bundle_copy, manifest)
    message = str(_integrity_error(bundle_copy))
    assert message.endswith("manifest.json lists an unknown file extra.bin")


def test_old_format_bundle_is_refused_with_rebuild_advice(bundle_copy: Path) -> None:
    # a format-1 bundle: checksums inside metadata.json, no manifest
    (bundle_copy / MANIFEST_FILE).unlink()
    metadata = _metadata(bundle_copy)
    metadata["format_version"] = 1
    (bundle_copy / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")
    message = _bundle_error(bundle_copy)
    assert "bundle format 1 is not supported" in message
    assert "rebuild" in message


@pytest.fixture
def signed_copy(demo_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bundle = load_bundle(demo_bundle)
    monkeypatch.setenv(KEY_ENV, "right-key")
    return save_bundle(bundle, tmp_path / "signed")


def test_signed_bundle_loads_with_its_key(signed_copy: Path) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", _manifest(signed_copy)["hmac_sha256"])
    assert load_bundle(signed_copy).metadata.threshold > 0


def test_wrong_key_is_refused(signed_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "wrong-key")
    error = _integrity_error(signed_copy)
    assert error.file == MANIFEST_FILE
    assert "signature does not match" in str(error)


def test_resealed_edit_of_a_signed_bundle_is_refused(signed_copy: Path) -> None:
    # the attacker edits the threshold and recomputes the checksum, but cannot sign
    metadata = _metadata(signed_copy)
    metadata["threshold"] = 0.99
    (signed_copy / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")
    _reseal(signed_copy, METADATA_FILE)
    assert "signature does not match" in str(_integrity_error(signed_copy))


def test_signed_bundle_without_the_key_is_refused(
    signed_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    assert f"{KEY_ENV} is not set" in str(_integrity_error(signed_copy))


def test_unsigned_bundle_is_refused_when_a_key_is_set(
    bundle_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "right-key")
    assert "is not signed" in str(_integrity_error(bundle_copy))


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]"], ids=["invalid", "empty", "array"])
def test_metadata_not_a_json_object(bundle_copy: Path, text: str) -> None:
    (bundle_copy / METADATA_FILE).write_text(text, encoding="utf-8")
    _reseal(bundle_copy, METADATA_FILE)
    message = _bundle_error(bundle_copy)
    assert "metadata.json" in message
    assert "not valid JSON" in message or "must hold a JSON object" in message


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 0, "1", None])
@pytest.mark.parametrize("where", ["metadata", "manifest"])
def test_wrong_format_version(bundle_copy: Path, version: object, where: str) -> None:
    if where == "metadata":
        metadata = _metadata(bundle_copy)
        metadata["format_version"] = version
        _write_metadata(bundle_copy, metadata)
    else:
        manifest = _manifest(bundle_copy)
        manifest["format_version"] = version
        _write_manifest(bundle_copy, manifest)
    message = _bundle_error(bundle_copy)
    assert f"bundle format {version!r} is not supported" in message
    assert "rebuild" in message


@pytest.mark.parametrize("written", ["3.3.5", "5.0.0", None])
def test_other_lightgbm_major_version(bundle_copy: Path, written: str | None) -> None:
    metadata = _metadata(bundle_copy)
    if written is None:
        del metadata["library_versions"]["lightgbm"]
    else:
        metadata["library_versions"]["lightgbm"] = written
    _write_metadata(bundle_copy, metadata)
    message = _bundle_error(bundle_copy)
    assert f"bundle written with LightGBM {written or 'unknown'}" in message
    assert "retrain" in message


def test_same_lightgbm_major_version_loads(bundle_copy: Path) -> None:
    metadata = _metadata(bundle_copy)
    major = lgb.__version__.split(".")[0]
    metadata["library_versions"]["lightgbm"] = f"{major}.0.0"
    _write_metadata(bundle_copy, metadata)
    assert load_bundle(bundle_copy).metadata.library_versions["lightgbm"] == f"{major}.0.0"


@pytest.mark.parametrize("name", CHECKSUMMED)
def test_each_checksummed_file_missing(bundle_copy: Path, name: str) -> None:
    (bundle_copy / name).unlink()
    assert _bundle_error(bundle_copy) == f"bundle bundle: {name} is missing"
    assert _integrity_error(bundle_copy).file == name


@pytest.mark.parametrize("name", CHECKSUMMED)
def test_each_checksummed_file_tampered(bundle_copy: Path, name: str) -> None:
    with (bundle_copy / name).open("ab") as handle:
        handle.write(b"\n")
    size = (bundle_copy / name).stat().st_size
    assert _bundle_error(bundle_copy) == (
        f"bundle bundle: {name} is truncated or extended ({size} bytes, manifest: {size - 1})"
    )


def test_model_tampered_in_place(bundle_copy: Path) -> None:
    text = (bundle_copy / MODEL_FILE).read_text()
    changed = re.sub(r"leaf_value=(\S+)", "leaf_value=0.5", text, count=1)
    assert changed != text
    (bundle_copy / MODEL_FILE).write_text(changed)
    assert "model.txt" in _bundle_error(bundle_copy)


def test_checksum_entry_missing(bundle_copy: Path) -> None:
    manifest = _manifest(bundle_copy)
    del manifest["files"][MODEL_FILE]
    _write_manifest(bundle_copy, manifest)
    assert "manifest.json does not list model.txt" in _bundle_error(bundle_copy)


def test_model_not_lightgbm(bundle_copy: Path) -> None:
    (bundle_copy / MODEL_FILE).write_text("this is not a model\n")
    _reseal(bundle_copy, MODEL_FILE)
    assert _bundle_error(bundle_copy) == "bundle bundle: model.txt is not a LightGBM model"


def test_transformer_disagrees_with_model(bundle_copy: Path) -> None:
    state = json.loads((bundle_copy / TRANSFORMER_FILE).read_text())
    state["feature_names"] = list(reversed(state["feature_names"]))
    (bundle_copy / TRANSFORMER_FILE).write_text(json.dumps(state))
    _reseal(bundle_copy, TRANSFORMER_FILE)
    assert "model and transformer disagree on the features" in _bundle_error(bundle_copy)


def test_transformer_unreadable(bundle_copy: Path) -> None:
    (bundle_copy / TRANSFORMER_FILE).write_text(json.dumps({"vocabularies": {}}))
    _reseal(bundle_copy, TRANSFORMER_FILE)
    assert "unreadable transformer or reference" in _bundle_error(bundle_copy)


# --- atomic writes --------------------------------------------------------------------------


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def test_overwrite_replaces_the_whole_bundle(demo_bundle: Path, bundle_copy: Path) -> None:
    (bundle_copy / "stale.txt").write_text("from an older bundle")
    before = _siblings(bundle_copy)
    save_bundle(load_bundle(demo_bundle), bundle_copy)
    assert not (bundle_copy / "stale.txt").exists()
    assert _siblings(bundle_copy) == before  # no staging or retired folder left behind
    load_bundle(bundle_copy)


def test_failed_save_leaves_the_old_bundle_intact(demo_bundle: Path, bundle_copy: Path) -> None:
    bundle = load_bundle(demo_bundle)
    bundle.stats = {"broken": float("nan")}  # JSON refuses NaN: the save fails midway
    checksums = {name: sha256(bundle_copy / name) for name in CHECKSUMMED}
    before = _siblings(bundle_copy)
    with pytest.raises(ValueError, match="JSON compliant"):
        save_bundle(bundle, bundle_copy)
    assert {name: sha256(bundle_copy / name) for name in CHECKSUMMED} == checksums
    assert _siblings(bundle_copy) == before
    load_bundle(bundle_copy)


def test_failed_first_save_leaves_nothing(demo_bundle: Path, tmp_path: Path) -> None:
    bundle = load_bundle(demo_bundle)
    bundle.stats = {"broken": float("inf")}
    with pytest.raises(ValueError, match="JSON compliant"):
        save_bundle(bundle, tmp_path / "new" / "bundle")
    assert list((tmp_path / "new").iterdir()) == []


def _drop(metadata: dict, path: tuple[str | int, ...]) -> None:
    for part in path[:-1]:
        metadata = metadata[part]
    del metadata[path[-1]]


def _set(metadata: dict, path: tuple[str | int, ...], value: object) -> None:
    for part in path[:-1]:
        metadata = metadata[part]
    metadata[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("threshold",), "threshold"),
        (("cost",), "cost"),
        (("cost", "fn"), "cost.fn"),
        (("metrics", "auc"), "metrics.auc"),
        (("data", "fingerprint"), "data.fingerprint"),
        (("features", 0, "dtype"), "features.0.dtype"),
        (("version",), "version"),
    ],
)
def test_metadata_missing_field_is_refused_with_its_name(
    bundle_copy: Path, path: tuple[str | int, ...], field: str
) -> None:
    metadata = _metadata(bundle_copy)
    _drop(metadata, path)
    _write_metadata(bundle_copy, metadata)
    assert _bundle_error(bundle_copy) == f"bundle bundle: metadata.json {field}: Field required"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("threshold",), "0.5", "threshold"),  # a string is not a number, even if it reads as one
        (("threshold",), 1.5, "threshold"),
        (("threshold",), 0, "threshold"),
        (("cost", "fp"), -1, "cost.fp"),
        (("metrics", "auc"), None, "metrics.auc"),
        (("features", 2, "actionable"), "yes", "features.2.actionable"),
        (("features", 1, "dtype"), "text", "features.1.dtype"),
        (("trained_at",), "yesterday", "trained_at"),
        (("threshhold",), 0.5, "threshhold"),  # a misspelt extra key is refused too
    ],
)
def test_metadata_mistyped_field_is_refused_with_its_name(
    bundle_copy: Path, path: tuple[str | int, ...], value: object, field: str
) -> None:
    metadata = _metadata(bundle_copy)
    _set(metadata, path, value)
    _write_metadata(bundle_copy, metadata)
    assert _bundle_error(bundle_copy).startswith(f"bundle bundle: metadata.json {field}: ")


def test_metadata_features_must_match_the_transformer(bundle_copy: Path) -> None:
    metadata = _metadata(bundle_copy)
    metadata["features"] = metadata["features"][::-1]
    _write_metadata(bundle_copy, metadata)
    assert _bundle_error(bundle_copy) == (
        "bundle bundle: metadata and transformer disagree on the features"
    )
