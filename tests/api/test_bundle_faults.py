"""Start-up refuses a damaged bundle with the file named: each checksummed file missing or
truncated, a file from another bundle, a bundle written by another LightGBM major version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from scoring.bundle import CHECKSUMMED, METADATA_FILE, MODEL_FILE, REFERENCE_FILE
from scoring.errors import BundleError


def start(settings: Settings, bundle: Path) -> str:
    app = create_app(settings.model_copy(update={"scoring_bundle": bundle}))
    with pytest.raises(BundleError) as refused, TestClient(app):
        pass
    return str(refused.value)


def copy(demo_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(demo_bundle, tmp_path / "bundle"))


@pytest.mark.parametrize("name", CHECKSUMMED)
def test_a_missing_file_is_named(
    name: str, base_settings: Settings, demo_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy(demo_bundle, tmp_path)
    (bundle / name).unlink()
    assert f"{name} is missing" in start(base_settings, bundle)


@pytest.mark.parametrize("name", [MODEL_FILE, REFERENCE_FILE])
def test_a_truncated_file_is_named(
    name: str, base_settings: Settings, demo_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy(demo_bundle, tmp_path)
    data = (bundle / name).read_bytes()
    (bundle / name).write_bytes(data[: len(data) // 2])
    assert f"{name} is truncated or extended" in start(base_settings, bundle)


def test_a_file_of_another_bundle_is_refused(
    base_settings: Settings, demo_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy(demo_bundle, tmp_path)
    foreign = (bundle / MODEL_FILE).read_text().replace("learning_rate", "learning_ratE", 1)
    (bundle / MODEL_FILE).write_text(foreign)  # same size, other content
    assert f"{MODEL_FILE} was modified (checksum mismatch)" in start(base_settings, bundle)


def test_a_bundle_of_another_lightgbm_major_is_refused(
    base_settings: Settings, demo_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy(demo_bundle, tmp_path)
    metadata = json.loads((bundle / METADATA_FILE).read_text())
    metadata["library_versions"]["lightgbm"] = "3.3.5"
    (bundle / METADATA_FILE).write_text(json.dumps(metadata))
    message = start(base_settings, bundle)
    assert "LightGBM 3.3.5" in message or METADATA_FILE in message
