"""One source of truth: every surface gives a client the same score and the same decision.

The API (score, explanation, what-if, counterfactual) and the CLI's batch `score` build the
client's features through the same path, auxiliary tables included, and take the decision
through the same rule; a bundle with another threshold moves all of them together.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from scoring.bundle import load_bundle, save_bundle
from scoring.data import find_table_files
from scoring.decision import decide_all
from scoring.model import ScoringModel
from tests.api.conftest import HEADERS, services_of

AUX_SAMPLE_TABLES = ("bureau", "bureau_balance", "previous_application", "credit_card_balance")


def _cli(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scoring", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _cli_scores(bundle: Path, data: Path, tmp: Path) -> pd.DataFrame:
    out = tmp / "scores.parquet"
    _cli("score", "--bundle", str(bundle), "--data", str(data), "--out", str(out),
         "--cache-dir", str(tmp / "cli-cache"))  # fmt: skip
    return pd.read_parquet(out).set_index("SK_ID_CURR")


def _all_ids(client: TestClient) -> list[int]:
    ids: list[int] = []
    while True:
        page = client.get("/v1/clients", params={"limit": 200, "offset": len(ids)}, headers=HEADERS)
        assert page.status_code == 200, page.text
        ids.extend(page.json()["items"])
        if len(ids) >= page.json()["total"]:
            return ids


def _get(client: TestClient, path: str) -> dict[str, Any]:
    response = client.get(path, headers=HEADERS)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _with_history(client: TestClient) -> list[int]:
    """Clients whose auxiliary aggregates are present (they would differ without the tables)."""
    store = services_of(client.app).store  # type: ignore[arg-type]
    history = store.base.aggregates
    return [int(i) for i in store.ids if i in history.index and history.loc[i].notna().any()]


def _assert_parity(client: TestClient, cli: pd.DataFrame) -> None:
    ids = _all_ids(client)
    assert sorted(ids) == sorted(cli.index.tolist())
    differences = []
    for cid in ids:
        score = _get(client, f"/v1/clients/{cid}/score")
        expected = cli.loc[cid]
        if (score["probability"], score["decision"]) != (
            expected["probability"],
            expected["decision"],
        ):
            differences.append(cid)
    assert differences == []
    # What-if and counterfactual start from the same features: with no change, the same score.
    history = _with_history(client)
    assert history, "the data set must give some clients an auxiliary history"
    for cid in history[:25]:
        body = {"client_id": cid, "changes": {}, "top": 3}
        what_if = client.post("/v1/explain", json=body, headers=HEADERS).json()
        assert what_if["probability"] == pytest.approx(cli.loc[cid, "probability"], abs=1e-12)
        assert what_if["decision"] == cli.loc[cid, "decision"]
        cf = _get(client, f"/v1/clients/{cid}/counterfactual")
        assert cf["probability_before"] == pytest.approx(cli.loc[cid, "probability"], abs=1e-12)
        assert cf["decision_before"] == cli.loc[cid, "decision"]


@pytest.mark.slow
def test_api_and_cli_agree_on_every_demo_client(
    demo_bundle: Path, demo_data: Path, make_client: Callable[..., Any], tmp_path: Path
) -> None:
    assert set(load_bundle(demo_bundle).builder.aux_tables), "demo bundle trained without aux"
    cli = _cli_scores(demo_bundle, demo_data, tmp_path)
    with make_client(scoring_clients=demo_data) as client:
        assert services_of(client.app).store.base.tables  # type: ignore[arg-type]
        _assert_parity(client, cli)


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real application samples with the real auxiliary samples beside them (in a tmp
    folder: the data never enters the repository)."""
    from tests.scoring.conftest import REAL_DATA

    if not (REAL_DATA / "application_train_sample.parquet").exists():
        pytest.skip(f"real Home Credit sample not found in {REAL_DATA}")
    folder = tmp_path_factory.mktemp("real-with-aux")
    for path in find_table_files(REAL_DATA).values():
        shutil.copy(path, folder / path.name)
    for table in AUX_SAMPLE_TABLES:
        shutil.copy(REAL_DATA / "aux_sample" / f"{table}.parquet", folder)
    return folder


@pytest.mark.slow
@pytest.mark.realdata
def test_api_and_cli_agree_on_every_real_client(
    real_folder: Path, make_client: Callable[..., Any], tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    _cli("train", "--data", str(real_folder), "--out", str(bundle), "--folds", "2",
         "--n-estimators", "80", "--no-mlflow", "--quiet")  # fmt: skip
    assert {"bureau", "previous_application", "credit_card_balance"} <= set(
        load_bundle(bundle).builder.aux_tables
    )
    cli = _cli_scores(bundle, real_folder, tmp_path)
    with make_client(
        scoring_bundle=bundle, scoring_clients=real_folder, scoring_cache=tmp_path / "cache"
    ) as client:
        _assert_parity(client, cli)


@pytest.mark.slow
def test_a_new_threshold_moves_every_surface_together(
    demo_bundle: Path, demo_data: Path, make_client: Callable[..., Any], tmp_path: Path
) -> None:
    original = load_bundle(demo_bundle)
    cli_before = _cli_scores(demo_bundle, demo_data, tmp_path / "before")
    # A threshold at the median probability: many decisions flip from the original ones.
    threshold = float(np.median(cli_before["probability"]))
    moved = original.metadata.model_copy(
        update={"threshold": threshold, "version": f"{original.metadata.version}-t"}
    )
    original.metadata = moved
    bundle = save_bundle(original, tmp_path / "moved")
    cli = _cli_scores(bundle, demo_data, tmp_path / "after")
    policy = ScoringModel(original).policy
    verdicts = decide_all(
        cli["probability"].to_numpy(), threshold, policy, cli["missing_key_features"].to_numpy()
    )
    expected = dict(zip(cli.index.astype(int), verdicts.decision.tolist(), strict=True))
    assert cli["decision"].to_dict() == expected
    flipped = [i for i in expected if expected[i] != cli_before.loc[i, "decision"]]
    assert flipped, "the new threshold must change some decisions"
    with make_client(scoring_bundle=bundle, scoring_clients=demo_data) as client:
        for cid in flipped[:20] + list(expected)[:20]:
            score = _get(client, f"/v1/clients/{cid}/score")
            explanation = _get(client, f"/v1/clients/{cid}/explanation")
            counterfactual = _get(client, f"/v1/clients/{cid}/counterfactual")
            assert score["threshold"] == explanation["threshold"] == threshold
            assert score["model_version"] == moved.version
            assert (
                score["decision"]
                == explanation["decision"]
                == counterfactual["decision_before"]
                == expected[cid]
            )
