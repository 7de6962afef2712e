"""Which bundle bench/api.py serves: one LightGBM booster, whatever the demo's winner is."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import api


def args(**given: object) -> Namespace:
    return Namespace(**{"large_model": False, "rows": 0, "bundle": None, "clients": None, **given})


@pytest.fixture
def boosters(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """A fake world: `with-booster` has one booster, anything else has none; training the
    LightGBM-only bundle only records where it would be written."""
    trained: dict[str, Path] = {}

    def lightgbm_bundle(data: Path, out: Path) -> Path:
        trained["data"], trained["out"] = data, out
        return out

    monkeypatch.setattr(api, "single_booster", lambda bundle: bundle.name == "with-booster")
    monkeypatch.setattr(api, "lightgbm_bundle", lightgbm_bundle)
    monkeypatch.setattr(api, "DEMO_DATA", tmp_path / "data")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "application_train.parquet").touch()
    return trained


def test_a_bundle_without_a_booster_is_replaced_by_a_lightgbm_one(
    boosters: dict[str, Path], tmp_path: Path
) -> None:
    bundle, clients, why = api.resolve_bundle(
        args(bundle="var/demo/bundle", clients="var/demo/data"), tmp_path
    )
    assert bundle == api.ROOT / "var/bench/lgbm-bundle" == boosters["out"]
    assert clients == boosters["data"] == tmp_path / "data"
    assert "not var/demo/bundle: no booster" in why


def test_the_default_is_the_lightgbm_bundle_of_the_demo_data(
    boosters: dict[str, Path], tmp_path: Path
) -> None:
    bundle, _, why = api.resolve_bundle(args(), tmp_path)
    assert bundle == boosters["out"]
    assert why.startswith("LightGBM-only bundle of var/demo/data")


def test_a_bundle_with_one_booster_is_served_as_given(
    boosters: dict[str, Path], tmp_path: Path
) -> None:
    given = tmp_path / "with-booster"
    bundle, clients, why = api.resolve_bundle(args(bundle=str(given), clients="c"), tmp_path)
    assert (bundle, clients) == (given, Path("c"))
    assert "out" not in boosters  # nothing trained
    assert "one LightGBM booster" in why


def test_a_bundle_without_its_clients_is_refused(boosters: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--bundle needs --clients"):
        api.resolve_bundle(args(bundle=str(tmp_path / "with-booster")), tmp_path)


def test_a_folder_without_a_manifest_is_not_a_cached_bundle(tmp_path: Path) -> None:
    assert api.cached_bundle(tmp_path / "data", tmp_path / "missing") is False


def test_the_model_kind_names_a_booster_or_the_metadata_model() -> None:
    booster = SimpleNamespace(booster=object())
    scorecard = SimpleNamespace(
        booster=None, metadata=SimpleNamespace(params={"model": "scorecard"})
    )
    assert api.model_kind(booster) == "lightgbm"
    assert api.model_kind(scorecard) == "scorecard"
