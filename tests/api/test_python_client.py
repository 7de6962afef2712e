"""The shared Python client (clients/python) against the real API on the demo bundle: the
README's first call runs as written, every method reads what the API serves, and the API's
real errors (401, 404, 413, 422, 429) come back as the documented exceptions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pret_a_depenser_client
import pytest
from fastapi.testclient import TestClient
from pret_a_depenser_client import (
    ApiAuthError,
    ApiClient,
    ApiNotFound,
    ApiRateLimited,
    ApiRequestTooLarge,
    ApiValidationError,
)

from api.services import Services
from tests.api.conftest import KEY, services_of

README = Path(__file__).resolve().parents[2] / "clients" / "python" / "README.md"
DECISIONS = {"grant", "refuse", "refer"}


def _transport(client: TestClient) -> httpx.BaseTransport:
    # The TestClient's in-process transport: the client's real HTTP path without a socket.
    transport: httpx.BaseTransport = client._transport  # type: ignore[attr-defined]
    return transport


def _api(client: TestClient, key: str = KEY, **options: Any) -> ApiClient:
    return ApiClient("http://testserver", key, transport=_transport(client), **options)


@pytest.fixture
def api(client: TestClient) -> Iterator[ApiClient]:
    with _api(client) as api:
        yield api


def _first_call_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## First call") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the README's first call has a python block"
    return match.group(1)


def test_the_readmes_first_call_runs_as_written(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    transport = _transport(client)

    class Wired(ApiClient):  # the README's ApiClient, reaching the test API
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, transport=transport, **kwargs)

    monkeypatch.setattr(pret_a_depenser_client, "ApiClient", Wired)
    monkeypatch.setenv("BASE_URL", "http://testserver")
    monkeypatch.setenv("API_KEY", KEY)
    exec(_first_call_block(), {"__name__": "readme"})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] in DECISIONS
    assert any(line.startswith("- ") for line in lines), "reasons against, in French"
    assert lines[-1] == "HTTP 404: client 999999999 not found"


def test_every_method_reads_what_the_api_serves(api: ApiClient, client_ids: list[int]) -> None:
    first = client_ids[0]
    assert api.health() == {"status": "ok"}
    assert api.ready()["clients"] == len(client_ids)
    page = api.search_clients(limit=2, offset=1)
    assert page["items"] == client_ids[1:3]
    assert page["total"] == len(client_ids)
    score = api.score(first)
    assert score["decision"] in DECISIONS
    assert score["client_id"] == first
    expl = api.explanation(first, top=3, lang="fr", group=True)
    assert len(expl["contributions"]) == 3
    assert expl["probability"] == pytest.approx(score["probability"])
    record = api.client(first)
    assert {f["name"] for f in record["fields"]} >= {"AMT_CREDIT", "AMT_INCOME_TOTAL"}
    features = api.client_features(first)
    prediction = api.predict(features)
    assert prediction["probability"] == pytest.approx(score["probability"])
    batch = api.predict_batch([features, {}])
    assert batch["items"][0]["probability"] == pytest.approx(score["probability"])
    assert batch["items"][1]["decision"] == "refer"  # an empty record is never granted
    import pyarrow as pa

    from tests.api.test_batch_arrow import stream

    table = pa.table({name: pa.array([value, None], type=pa.float64())
                      for name, value in features.items()})  # fmt: skip
    assert api.predict_batch_arrow(stream(table)) == batch
    assert api.explain(features, top=2)["raw_score"] == pytest.approx(expl["raw_score"])
    what_if = api.explain_changes(first, {"AMT_CREDIT": 250000.0}, top=2)
    assert what_if["client_id"] == first
    names = [f["name"] for f in api.features()]
    assert api.distribution(names[0], first, bins=5)["bin_edges"].__len__() == 6
    assert api.scatter(names[0], names[1], n=10)["points"]["target"]
    assert len(api.neighbors(first, k=3)["items"]) == 3
    assert api.counterfactual(first)["client_id"] == first
    assert api.model()["threshold"] == score["threshold"]
    assert len(api.importance(top=4)["items"]) == 4


def test_the_apis_errors_are_the_documented_exceptions(client: TestClient, api: ApiClient) -> None:
    with pytest.raises(ApiAuthError, match="HTTP 401"):
        _api(client, key="not-a-key").score(1)
    with pytest.raises(ApiNotFound, match="client 999999999 not found"):
        api.score(999999999)
    with pytest.raises(ApiValidationError, match="NOT_A_FEATURE") as unknown:
        api.predict({"NOT_A_FEATURE": 1.0})
    assert unknown.value.status == 422
    with pytest.raises(ApiValidationError) as typed:
        api.predict({"AMT_CREDIT": "lots"})  # type: ignore[dict-item]
    assert typed.value.fields == ["AMT_CREDIT"]
    assert str(typed.value) == "HTTP 422: features.AMT_CREDIT: Input should be a valid number"
    assert typed.value.request_id  # X-Request-ID, to quote to the API's team


def test_a_batch_over_the_limit_is_request_too_large(make_client: Callable[..., Any]) -> None:
    with (
        make_client(api_batch_max=2) as small,
        _api(small) as api,
        pytest.raises(ApiRequestTooLarge, match="at most 2"),
    ):
        api.predict_batch([{}, {}, {}])


def test_a_rate_limited_post_is_not_audited_and_fails_saying_when_to_come_back(
    make_client: Callable[..., Any],
) -> None:
    waits: list[float] = []
    with make_client(api_rate_limit=1) as limited, _api(limited, sleep=waits.append) as api:
        services: Services = services_of(limited.app)
        api.predict({})
        audited = services.audit.count()
        with pytest.raises(ApiRateLimited) as caught:
            api.predict({})
        assert services.audit.count() == audited  # the API did not act: a retry is safe
    # one request a minute: the next token is further than the default 30 s cap
    assert caught.value.retry_after is not None
    assert 30 < caught.value.retry_after <= 60
    assert caught.value.attempts == 1
    assert waits == []
