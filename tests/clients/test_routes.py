"""The shared client (pret_a_depenser_client) against httpx.MockTransport: each route's path,
parameters and key, the bodies it reads, and the typed error of each status."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from pret_a_depenser_client import (
    ApiAuthError,
    ApiClient,
    ApiError,
    ApiNotFound,
    ApiRateLimited,
    ApiRequestTooLarge,
    ApiResponseError,
    ApiTimeout,
    ApiUnavailable,
    ApiValidationError,
    RetryPolicy,
)

from tests.dashboard.fake_api import REFUSED_ID, FakeApi

Handler = Callable[[httpx.Request], httpx.Response]
fake = FakeApi()


def _client(handler: Handler) -> ApiClient:
    # no retries here: tests/clients/test_retry.py covers them
    return ApiClient(
        "http://api.test/",
        "secret",
        timeout=2,
        retry=RetryPolicy.none(),
        transport=httpx.MockTransport(handler),
    )


def _recording(body: object, seen: list[httpx.Request], status: int = 200) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body)

    return handler


@pytest.mark.parametrize(
    ("call", "body", "path", "params"),
    [
        (
            lambda c: c.search_clients("1000", limit=5),
            fake.search_clients("1000"),
            "/v1/clients",
            {"search": "1000", "limit": "5", "offset": "0"},
        ),
        (lambda c: c.features(), {"items": fake.features()}, "/v1/features", {"lang": "en"}),
        (
            lambda c: c.features(lang="fr"),
            {"items": fake.features("fr")},
            "/v1/features",
            {"lang": "fr"},
        ),
        (
            lambda c: c.client(REFUSED_ID),
            fake.client(REFUSED_ID),
            f"/v1/clients/{REFUSED_ID}",
            {"lang": "en"},
        ),
        (
            lambda c: c.client(REFUSED_ID, lang="fr"),
            fake.client(REFUSED_ID, lang="fr"),
            f"/v1/clients/{REFUSED_ID}",
            {"lang": "fr"},
        ),
        (
            lambda c: c.explanation(REFUSED_ID, lang="fr", group=True),
            fake.explanation(REFUSED_ID),
            f"/v1/clients/{REFUSED_ID}/explanation",
            {"top": "10", "lang": "fr", "group": "true"},
        ),
        (
            lambda c: c.importance(top=3, group=True),
            fake.importance(3),
            "/v1/model/importance",
            {"top": "3", "lang": "en", "group": "true"},
        ),
        (
            lambda c: c.client_features(REFUSED_ID),
            {"client_id": REFUSED_ID, "model_version": "v", "features": {"A": 1.0}},
            f"/v1/clients/{REFUSED_ID}/features",
            {},
        ),
        (
            lambda c: c.explanation(REFUSED_ID, top=7, lang="fr"),
            fake.explanation(REFUSED_ID),
            f"/v1/clients/{REFUSED_ID}/explanation",
            {"top": "7", "lang": "fr"},
        ),
        (
            lambda c: c.distribution("EXT_SOURCE_2", REFUSED_ID),
            fake.distribution("EXT_SOURCE_2", REFUSED_ID),
            "/v1/features/EXT_SOURCE_2/distribution",
            {"by": "target", "bins": "20", "client_id": str(REFUSED_ID), "lang": "en"},
        ),
        (
            lambda c: c.distribution("EXT_SOURCE_2", REFUSED_ID, by="prediction", lang="fr"),
            fake.distribution("EXT_SOURCE_2", REFUSED_ID, by="prediction", lang="fr"),
            "/v1/features/EXT_SOURCE_2/distribution",
            {"by": "prediction", "bins": "20", "client_id": str(REFUSED_ID), "lang": "fr"},
        ),
        (
            lambda c: c.scatter("A", "B", n=100),
            fake.scatter("A", "B"),
            "/v1/features/scatter",
            {"x": "A", "y": "B", "n": "100"},
        ),
        (
            lambda c: c.neighbors(REFUSED_ID, k=5),
            fake.neighbors(REFUSED_ID, 5),
            f"/v1/clients/{REFUSED_ID}/neighbors",
            {"k": "5"},
        ),
        (
            lambda c: c.counterfactual(REFUSED_ID),
            fake.counterfactual(REFUSED_ID),
            f"/v1/clients/{REFUSED_ID}/counterfactual",
            {"lang": "en"},
        ),
        (lambda c: c.model(), fake.model(), "/v1/model", {}),
        (
            lambda c: c.importance(top=3),
            fake.importance(3),
            "/v1/model/importance",
            {"top": "3", "lang": "en"},
        ),
        (
            lambda c: c.importance(top=3, lang="fr"),
            fake.importance(3, lang="fr"),
            "/v1/model/importance",
            {"top": "3", "lang": "fr"},
        ),
    ],
)
def test_each_route_is_called_as_the_contract_says(
    call: Callable[[ApiClient], object], body: object, path: str, params: dict[str, str]
) -> None:
    seen: list[httpx.Request] = []
    result = call(_client(_recording(body, seen)))
    request = seen[0]
    assert request.method == "GET"
    assert request.url.path == path
    assert dict(request.url.params) == params
    assert request.headers["X-API-Key"] == "secret"
    assert result is not None


def test_features_and_client_features_unwrap_their_envelope() -> None:
    seen: list[httpx.Request] = []
    assert _client(_recording({"items": fake.features()}, seen)).features()[0]["name"] == (
        "EXT_SOURCE_2"
    )
    record = {"client_id": 1, "model_version": "v", "features": {"A": None}}
    assert _client(_recording(record, seen)).client_features(1) == {"A": None}


def test_labelled_routes_send_lang_and_return_the_labels_as_given() -> None:
    seen: list[httpx.Request] = []
    features = _client(_recording({"items": fake.features("fr")}, seen)).features(lang="fr")
    assert features[0]["label"] == "Score de crédit externe 2"
    body = fake.distribution("EXT_SOURCE_2", REFUSED_ID, lang="fr")
    dist = _client(_recording(body, seen)).distribution("EXT_SOURCE_2", REFUSED_ID, lang="fr")
    assert dist["labels"] == ["remboursé", "difficultés de paiement"]
    ranked = _client(_recording(fake.importance(lang="fr"), seen)).importance(lang="fr")
    assert ranked["items"][0]["label"] == "Score de crédit externe 2"
    assert [r.url.params["lang"] for r in seen] == ["fr", "fr", "fr"]


def test_what_if_posts_client_id_and_changes() -> None:
    seen: list[httpx.Request] = []
    client = _client(_recording(fake.explanation(REFUSED_ID), seen))
    result = client.explain_changes(REFUSED_ID, {"AMT_CREDIT": 300000}, lang="fr")
    assert seen[0].method == "POST"
    assert seen[0].url.path == "/v1/explain"
    assert json.loads(seen[0].content) == {
        "client_id": REFUSED_ID,
        "changes": {"AMT_CREDIT": 300000},
        "top": 10,
        "lang": "fr",
    }
    assert result["decision"] == "refuse"
    client.explain_changes(REFUSED_ID, {"AMT_CREDIT": 300000}, group=True)
    assert json.loads(seen[1].content)["group"] is True


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, ApiAuthError),
        (403, ApiAuthError),
        (404, ApiNotFound),
        (413, ApiRequestTooLarge),
        (422, ApiValidationError),
        (429, ApiRateLimited),
        (500, ApiError),
        (502, ApiUnavailable),
        (503, ApiUnavailable),
        (504, ApiTimeout),
    ],
)
def test_error_statuses_map_to_typed_errors(status: int, error: type[ApiError]) -> None:
    seen: list[httpx.Request] = []
    client = _client(_recording({"detail": "nope"}, seen, status=status))
    with pytest.raises(error) as caught:
        client.explanation(REFUSED_ID)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert "nope" in str(caught.value)


def _raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def test_unreachable_api_is_unavailable() -> None:
    with pytest.raises(ApiUnavailable) as caught:
        _client(_raising(httpx.ConnectError("refused"))).model()
    assert not isinstance(caught.value, ApiTimeout)


def test_slow_api_is_a_timeout() -> None:
    with pytest.raises(ApiTimeout):
        _client(_raising(httpx.ReadTimeout("slow"))).model()


def test_a_body_that_is_not_json_or_not_the_contract_is_an_api_error() -> None:
    text = _client(lambda r: httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(ApiResponseError, match="not JSON"):
        text.model()
    wrong = _client(lambda r: httpx.Response(200, json={"version": "x"}))
    with pytest.raises(ApiResponseError, match="ModelCard"):
        wrong.model()
    error_html = _client(lambda r: httpx.Response(500, text="Internal Server Error"))
    with pytest.raises(ApiError, match="HTTP 500"):
        error_html.model()


SCORE = {
    "probability": 0.27,
    "decision": "refuse",
    "decision_reason": "at_or_above_threshold",
    "missing_key_features": [],
    "threshold": 0.24,
    "model_version": "v1",
}


def test_integrator_routes_send_what_the_contract_says() -> None:
    seen: list[httpx.Request] = []
    prediction = {**SCORE, "missing_features": ["OWN_CAR_AGE"]}
    assert _client(_recording({"status": "ok"}, seen)).health() == {"status": "ok"}
    ready = {"status": "ready", "model_version": "v1", "clients": 3, "database": "ok"}
    assert _client(_recording({**ready, "cache": "ready"}, seen)).ready()["clients"] == 3
    page = {"total": 300, "limit": 50, "offset": 100, "items": [1]}
    assert _client(_recording(page, seen)).search_clients(limit=50, offset=100) == page
    score = _client(_recording({**SCORE, "client_id": 7}, seen)).score(7)
    assert score["decision"] == "refuse"
    assert _client(_recording(prediction, seen)).predict({"A": 0.5, "B": None}) == prediction
    batch = {"model_version": "v1", "items": [prediction, prediction]}
    assert _client(_recording(batch, seen)).predict_batch([{"A": 0.5}, {}])["items"][1] == (
        prediction
    )
    explained = _client(_recording(fake.explanation(REFUSED_ID), seen))
    assert explained.explain({"A": 0.5}, top=3, lang="fr", group=True)["decision"] == "refuse"

    sent = [(r.method, r.url.path, dict(r.url.params)) for r in seen]
    assert sent == [
        ("GET", "/health", {}),
        ("GET", "/ready", {}),
        ("GET", "/v1/clients", {"search": "", "limit": "50", "offset": "100"}),
        ("GET", "/v1/clients/7/score", {}),
        ("POST", "/v1/predict", {}),
        ("POST", "/v1/predict/batch", {}),
        ("POST", "/v1/explain", {}),
    ]
    bodies = [json.loads(r.content) for r in seen[4:]]
    assert bodies == [
        {"features": {"A": 0.5, "B": None}},
        {"records": [{"features": {"A": 0.5}}, {"features": {}}]},
        {"features": {"A": 0.5}, "top": 3, "lang": "fr", "group": True},
    ]
    assert all(r.headers["User-Agent"].startswith("pret-a-depenser-client/") for r in seen)


def test_a_422_names_the_field_in_the_message_and_in_fields() -> None:
    detail = [
        {"loc": ["body", "features", "AMT_CREDIT"], "msg": "Input should be a number", "type": "x"}
    ]
    client = _client(
        lambda r: httpx.Response(422, json={"detail": detail}, headers={"X-Request-ID": "r-1"})
    )
    with pytest.raises(ApiValidationError) as caught:
        client.predict({"AMT_CREDIT": None})
    error = caught.value
    assert str(error) == "HTTP 422: features.AMT_CREDIT: Input should be a number"
    assert error.fields == ["AMT_CREDIT"]
    assert error.errors == detail
    assert error.request_id == "r-1"
    assert error.attempts == 1


def test_a_422_sentence_is_kept_as_the_api_wrote_it() -> None:
    sentence = "AMT_INCOME_TOTAL: -5 is outside the valid range [1, 1000000000]"
    client = _client(lambda r: httpx.Response(422, json={"detail": sentence}))
    with pytest.raises(ApiValidationError, match=r"AMT_INCOME_TOTAL: -5 is outside") as caught:
        client.predict({"AMT_INCOME_TOTAL": -5})
    assert caught.value.errors == []
    assert caught.value.detail == sentence


def test_an_auth_error_is_raised_at_once_and_says_so() -> None:
    seen: list[httpx.Request] = []
    client = ApiClient(
        "http://api.test",
        "wrong",
        transport=httpx.MockTransport(_recording({"detail": "invalid API key"}, seen, 401)),
        sleep=lambda s: pytest.fail("an auth error is not retried"),
    )
    with pytest.raises(ApiAuthError, match="HTTP 401: invalid API key"):
        client.score(REFUSED_ID)
    assert len(seen) == 1


def test_a_404_is_not_found_and_not_retried() -> None:
    seen: list[httpx.Request] = []
    client = ApiClient(
        "http://api.test",
        "key",
        transport=httpx.MockTransport(_recording({"detail": "client 9 not found"}, seen, 404)),
        sleep=lambda s: pytest.fail("a 404 is not retried"),
    )
    with pytest.raises(ApiNotFound, match="client 9 not found"):
        client.score(9)
    assert len(seen) == 1


def test_a_feature_name_is_one_path_segment() -> None:
    seen: list[httpx.Request] = []
    client = _client(_recording(fake.distribution("EXT_SOURCE_2", REFUSED_ID), seen))
    client.distribution("A/B", REFUSED_ID)
    assert seen[0].url.raw_path.startswith(b"/v1/features/A%2FB/distribution")
