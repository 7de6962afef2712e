"""The API does not start on a bundle whose threshold was edited, or that fails its signature."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from scoring.bundle import KEY_ENV, load_bundle, save_bundle
from scoring.errors import BundleIntegrityError


def _start(settings: Settings, bundle: Path) -> None:
    app = create_app(settings.model_copy(update={"scoring_bundle": bundle}))
    with TestClient(app):
        pass


def test_an_edited_threshold_stops_start_up_naming_metadata(
    base_settings: Settings, demo_bundle: Path, tmp_path: Path
) -> None:
    bundle = Path(shutil.copytree(demo_bundle, tmp_path / "bundle"))
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    metadata["threshold"] = 0.99  # every client granted under the same model version
    (bundle / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    with pytest.raises(BundleIntegrityError, match=r"metadata\.json") as caught:
        _start(base_settings, bundle)
    assert caught.value.file == "metadata.json"


def test_a_signed_bundle_needs_the_right_key(
    base_settings: Settings, demo_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = load_bundle(demo_bundle)
    monkeypatch.setenv(KEY_ENV, "release-key")
    signed = save_bundle(original, tmp_path / "signed")
    monkeypatch.setenv(KEY_ENV, "another-key")
    with pytest.raises(BundleIntegrityError, match="signature does not match"):
        _start(base_settings, signed)
    monkeypatch.setenv(KEY_ENV, "release-key")
    app = create_app(
        base_settings.model_copy(update={"scoring_bundle": signed, "api_warm_cache": False})
    )
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
