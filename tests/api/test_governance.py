"""Model governance served: the registry round trip (log, promote, load by alias) and fairness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.responses import fairness_reading
from scoring.bundle import load_bundle, save_bundle
from tests.api.conftest import HEADERS

pytest.importorskip("mlflow")


def get(client: TestClient, path: str, **params: object) -> Any:
    response = client.get(path, headers=HEADERS, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_registry_round_trip_log_promote_load_by_alias(
    demo_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_client: Any
) -> None:
    from scoring.cli import main
    from scoring.tracking import REGISTERED_MODEL, track

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    metadata = load_bundle(demo_bundle).metadata
    first = track(demo_bundle, metadata)
    second = track(demo_bundle, metadata)
    assert first is not None
    assert second is not None
    assert (first.name, first.version, second.version) == (REGISTERED_MODEL, 1, 2)
    assert main(["promote", "--version", "1"]) == 0
    with make_client(
        scoring_model_uri=f"models:/{REGISTERED_MODEL}@champion",
        scoring_registry_cache=tmp_path / "registry",
        scoring_bundle=tmp_path / "nowhere",  # the URI wins over the path
    ) as client:
        card = get(client, "/v1/model")
        assert card["version"] == metadata.version
        assert card["registry"] == {"name": REGISTERED_MODEL, "version": 1, "aliases": ["champion"]}
        client_id = get(client, "/v1/clients", limit=1)["items"][0]
        assert get(client, f"/v1/clients/{client_id}/score")["model_version"] == metadata.version
    assert main(["promote", "--version", "2"]) == 0
    with make_client(
        scoring_model_uri=f"models:/{REGISTERED_MODEL}@champion",
        scoring_registry_cache=tmp_path / "registry",
    ) as client:
        assert get(client, "/v1/model")["registry"]["version"] == 2


def test_promoting_an_unknown_version_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main_promote(["--version", "7", "--tracking-uri", uri]) == 2
    assert "--version 7: no such version of credit-scoring" in capsys.readouterr().err


def main_promote(args: list[str]) -> int:
    from scoring.cli import main

    return main(["promote", *args])


def test_an_unknown_alias_stops_the_api_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_client: Any
) -> None:
    from scoring.tracking import RegistryError

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with (
        pytest.raises(RegistryError, match="models:/credit-scoring@champion: not found"),
        make_client(scoring_model_uri="models:/credit-scoring@champion"),
    ):
        pass


def test_fairness_is_the_cards_report_with_a_reading(demo_bundle: Path, client: TestClient) -> None:
    card = load_bundle(demo_bundle).card
    assert card is not None
    body = get(client, "/v1/model/fairness")
    assert body["model_version"] == load_bundle(demo_bundle).metadata.version
    assert body["threshold"] == pytest.approx(card["fairness"]["threshold"])
    assert [a["attribute"] for a in body["attributes"]] == ["CODE_GENDER", "AGE_BAND"]
    for served in body["attributes"]:
        expected = card["fairness"]["attributes"][served["attribute"]]
        assert served["groups"] == expected["groups"]
        assert served["demographic_parity_difference"] == expected["demographic_parity_difference"]
        assert served["is_model_input"] is True  # both feed the demo model (as in the card)
        assert "points" in served["reading"]
    french = get(client, "/v1/model/fairness", lang="fr")
    assert french["attributes"][0]["label"] == "Genre"
    assert "parité démographique" in french["attributes"][0]["reading"]
    assert client.get("/v1/model/fairness").status_code == 401


def test_a_bundle_without_card_answers_404(
    demo_bundle: Path, tmp_path: Path, make_client: Any
) -> None:
    bundle = load_bundle(demo_bundle)
    bundle.card = None
    old = save_bundle(bundle, tmp_path / "old")
    with make_client(scoring_bundle=old, wait_cache=False) as client:
        response = client.get("/v1/model/fairness", headers=HEADERS)
        assert response.status_code == 404
        assert "fairness report" in response.json()["detail"]
        assert get(client, "/v1/model")["comparison"] is None


def test_the_reading_states_the_hand_computed_gaps() -> None:
    entry = {
        "groups": [
            {"group": "F", "approval_rate": 0.75, "in_differences": True},
            {"group": "M", "approval_rate": 0.5, "in_differences": True},
            {"group": "XNA", "approval_rate": 0.0, "in_differences": False},  # too small
        ],
        "demographic_parity_difference": 0.25,
        "equalized_odds_difference": 0.125,
    }
    reading = fairness_reading("CODE_GENDER", entry, "en")
    assert reading.startswith("F clients are approved most often (75.0 %), M clients least")
    assert "(50.0 %): a gap of 25.0 points" in reading
    assert "up to 12.5 points" in reading
    assert "écart de 25,0 points" in fairness_reading("CODE_GENDER", entry, "fr")
