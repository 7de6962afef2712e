"""``ApiClient``: one synchronous client of the scoring API (v1), one method per route.

Every method sends one call (retried as ``RetryPolicy`` allows, see ``retry.py``) and returns
the body as the route's TypedDict, or raises an ``ApiError`` (``errors.py``). One instance per
(url, key) holds a pool of keep-alive connections: create it once and reuse it.
"""

from __future__ import annotations

import logging
import random as _random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import quote

import httpx

from pret_a_depenser_client._version import __version__
from pret_a_depenser_client.errors import (
    ApiError,
    ApiResponseError,
    ApiTimeout,
    ApiUnavailable,
    error_for,
)
from pret_a_depenser_client.models import (
    BatchPrediction,
    ClientFeatures,
    ClientPage,
    ClientRecord,
    ClientScore,
    Counterfactual,
    Distribution,
    DriftSummary,
    Explanation,
    Fairness,
    FeatureInfo,
    FeatureList,
    FeatureValues,
    Health,
    ImportanceList,
    Lang,
    ModelCard,
    Neighbors,
    Prediction,
    RawValue,
    Ready,
    Scatter,
)
from pret_a_depenser_client.retry import RetryPolicy, parse_retry_after

log = logging.getLogger("pret_a_depenser_client")
T = TypeVar("T")
DEFAULT_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 3.0  # an API that does not accept a connection in 3 s is down, not slow

_SCORE = ("probability", "decision", "threshold", "model_version")
_EXPLANATION = (*_SCORE, "base_value", "raw_score", "contributions", "rest", "reasons")


ARROW = "application/vnd.apache.arrow.stream"


def _timeout(value: float | httpx.Timeout) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    if not value > 0:
        raise ValueError(f"timeout: {value} is not a number of seconds above 0")
    return httpx.Timeout(value, connect=min(value, CONNECT_TIMEOUT_S))


def _expect(body: Any, keys: tuple[str, ...], shape: type[T]) -> T:
    """Check that a body has the contract's top-level keys; the types are the API's promise."""
    if not isinstance(body, dict) or any(key not in body for key in keys):
        raise ApiResponseError(f"unexpected response: expected {shape.__name__}")
    return cast(T, body)


def _grouped(params: dict[str, Any], group: bool) -> dict[str, Any]:
    """``params`` asking for merged related features (the external scores) when ``group``."""
    return {**params, "group": "true"} if group else params


class ApiClient:
    """Synchronous client of the scoring API.

    ``timeout`` (seconds, or an ``httpx.Timeout``) bounds each request; ``retry`` says which
    failures are retried and how (``RetryPolicy()``: 3 attempts, 429/503 and unopened
    connections, ``Retry-After`` honoured up to 30 s). ``with_options`` gives a view with
    another timeout or policy for some calls, sharing the connections. ``transport``, ``sleep``,
    ``clock`` and ``random`` are seams for tests (``httpx.MockTransport``, no real waiting).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT_S,
        *,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._timeout = _timeout(timeout)
        self._retry = retry if retry is not None else RetryPolicy()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "User-Agent": f"pret-a-depenser-client/{__version__}",
                **(headers or {}),
                "X-API-Key": api_key,
                "Accept": "application/json",
            },
            timeout=self._timeout,
            transport=transport,
        )
        self._sleep, self._clock, self._random = sleep, clock, random

    @property
    def retry(self) -> RetryPolicy:
        return self._retry

    @property
    def timeout(self) -> httpx.Timeout:
        return self._timeout

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, retry: RetryPolicy | None = None
    ) -> ApiClient:
        """The same client (same connections) with another timeout or retry policy, e.g.
        ``client.with_options(timeout=60).predict_batch(records)``. Closing a view closes the
        client it came from."""
        view = object.__new__(ApiClient)
        view.__dict__.update(self.__dict__)
        if timeout is not None:
            view._timeout = _timeout(timeout)
        if retry is not None:
            view._retry = retry
        return view

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        policy = self._retry
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, path, timeout=self._timeout, **kwargs)
            except httpx.TransportError as exc:
                if attempt < policy.max_attempts and policy.retries_error(method, exc):
                    wait = policy.backoff(attempt, self._random())
                    self._wait(method, type(exc).__name__, wait, attempt)
                    continue
                raise _unanswered(exc, attempt) from exc
            if response.status_code < 400:
                return _json(response, attempt)
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            if attempt < policy.max_attempts and policy.retries_status(response.status_code):
                wait_s = policy.delay(attempt, self._random(), retry_after)
                if wait_s is not None:
                    self._wait(method, f"HTTP {response.status_code}", wait_s, attempt)
                    continue
            raise _refused(response, retry_after, attempt)

    def _wait(self, method: str, why: str, seconds: float, attempt: int) -> None:
        # No path nor body in the log: a path holds a client id.
        log.info(
            "%s failed (%s): retry %d of %d in %.2f s",
            method,
            why,
            attempt,
            self._retry.max_attempts - 1,
            seconds,
        )
        self._sleep(seconds)

    def _get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params=params or None)

    def _post(self, path: str, payload: Mapping[str, Any]) -> Any:
        return self._request("POST", path, json=payload)

    # -- health (no key needed) --------------------------------------------------------------
    def health(self) -> Health:
        """``GET /health``: the API is alive (ApiUnavailable when a dependency is failing)."""
        return _expect(self._get("/health"), ("status",), Health)

    def ready(self) -> Ready:
        """``GET /ready``: the API can serve decisions (ApiUnavailable while it starts)."""
        return _expect(self._get("/ready"), ("status", "model_version"), Ready)

    # -- clients -----------------------------------------------------------------------------
    def search_clients(self, search: str = "", limit: int = 10, offset: int = 0) -> ClientPage:
        """``GET /v1/clients``: ids containing the digits ``search``, a page at a time."""
        body = self._get("/v1/clients", search=search, limit=limit, offset=offset)
        return _expect(body, ("total", "items"), ClientPage)

    def client(self, client_id: int, lang: Lang = "en") -> ClientRecord:
        """``GET /v1/clients/{id}``: the raw application record, labelled in ``lang``."""
        body = self._get(f"/v1/clients/{int(client_id)}", lang=lang)
        return _expect(body, ("fields",), ClientRecord)

    def client_features(self, client_id: int) -> FeatureValues:
        """``GET /v1/clients/{id}/features``: the model-ready record (``features`` only)."""
        body = self._get(f"/v1/clients/{int(client_id)}/features")
        return _expect(body, ("features",), ClientFeatures)["features"]

    def score(self, client_id: int) -> ClientScore:
        """``GET /v1/clients/{id}/score``: the decision on a stored client (audited)."""
        body = self._get(f"/v1/clients/{int(client_id)}/score")
        return _expect(body, (*_SCORE, "client_id"), ClientScore)

    def explanation(
        self, client_id: int, top: int = 10, lang: Lang = "en", group: bool = False
    ) -> Explanation:
        """``GET /v1/clients/{id}/explanation``: the decision and its SHAP reasons (audited)."""
        params = _grouped({"top": top, "lang": lang}, group)
        body = self._get(f"/v1/clients/{int(client_id)}/explanation", **params)
        return _expect(body, _EXPLANATION, Explanation)

    def neighbors(self, client_id: int, k: int = 10) -> Neighbors:
        """``GET /v1/clients/{id}/neighbors``: the most similar reference clients."""
        body = self._get(f"/v1/clients/{int(client_id)}/neighbors", k=k)
        return _expect(body, ("default_rate", "items"), Neighbors)

    def counterfactual(self, client_id: int, lang: Lang = "en") -> Counterfactual:
        """``GET /v1/clients/{id}/counterfactual``: the smallest change that would grant."""
        body = self._get(f"/v1/clients/{int(client_id)}/counterfactual", lang=lang)
        return _expect(body, ("found", "changes", "message"), Counterfactual)

    # -- scoring records the caller sends (audited; POST, see retry.py) ----------------------
    def predict(self, features: Mapping[str, float | None]) -> Prediction:
        """``POST /v1/predict``: score one model-ready record (absent names count as missing)."""
        body = self._post("/v1/predict", {"features": dict(features)})
        return _expect(body, (*_SCORE, "missing_features"), Prediction)

    def predict_batch(self, records: Sequence[Mapping[str, float | None]]) -> BatchPrediction:
        """``POST /v1/predict/batch``: score up to the API's batch limit (1000 by default) in
        one call; ``items`` come back in the order of ``records``."""
        payload = {"records": [{"features": dict(record)} for record in records]}
        return _expect(self._post("/v1/predict/batch", payload), ("items",), BatchPrediction)

    def predict_batch_arrow(self, stream: bytes) -> BatchPrediction:
        """``POST /v1/predict/batch`` with an Arrow IPC stream (``pyarrow.ipc.new_stream``,
        ``polars.DataFrame.write_ipc_stream``): one numeric column per feature, one row per
        record, null for a missing value. The answer of ``predict_batch`` for the same records,
        for a fraction of the server's CPU; this package needs no Arrow library to send it."""
        body = self._request(
            "POST", "/v1/predict/batch", content=bytes(stream), headers={"Content-Type": ARROW}
        )
        return _expect(body, ("items",), BatchPrediction)

    def explain(
        self,
        features: Mapping[str, float | None],
        top: int = 10,
        lang: Lang = "en",
        group: bool = False,
    ) -> Explanation:
        """``POST /v1/explain`` with a model-ready record: its decision and SHAP reasons."""
        payload: dict[str, Any] = {"features": dict(features), "top": top, "lang": lang}
        if group:
            payload["group"] = True
        return _expect(self._post("/v1/explain", payload), _EXPLANATION, Explanation)

    def explain_changes(
        self,
        client_id: int,
        changes: Mapping[str, RawValue],
        top: int = 10,
        lang: Lang = "en",
        group: bool = False,
    ) -> Explanation:
        """``POST /v1/explain`` with a stored client and what-if changes to raw columns."""
        payload: dict[str, Any] = {
            "client_id": client_id,
            "changes": dict(changes),
            "top": top,
            "lang": lang,
        }
        if group:
            payload["group"] = True
        return _expect(self._post("/v1/explain", payload), _EXPLANATION, Explanation)

    # -- features and model ------------------------------------------------------------------
    def features(self, lang: Lang = "en") -> list[FeatureInfo]:
        """``GET /v1/features``: the model's features, most important first (``items``)."""
        return _expect(self._get("/v1/features", lang=lang), ("items",), FeatureList)["items"]

    def distribution(
        self,
        feature: str,
        client_id: int,
        by: str = "target",
        bins: int = 20,
        lang: Lang = "en",
    ) -> Distribution:
        """``GET /v1/features/{name}/distribution``: repaid vs defaulted, and the client."""
        body = self._get(
            f"/v1/features/{quote(feature, safe='')}/distribution",
            by=by,
            bins=bins,
            client_id=client_id,
            lang=lang,
        )
        return _expect(body, ("bin_edges", "counts_0", "counts_1", "client_value"), Distribution)

    def scatter(self, x: str, y: str, n: int = 500) -> Scatter:
        """``GET /v1/features/scatter``: a sample of reference clients on two features."""
        return _expect(self._get("/v1/features/scatter", x=x, y=y, n=n), ("points",), Scatter)

    def model(self) -> ModelCard:
        """``GET /v1/model``: the model card (version, threshold, metrics, ...)."""
        return _expect(self._get("/v1/model"), ("version", "threshold", "metrics"), ModelCard)

    def importance(self, top: int = 20, lang: Lang = "en", group: bool = False) -> ImportanceList:
        """``GET /v1/model/importance``: global importance (mean |SHAP|)."""
        body = self._get("/v1/model/importance", **_grouped({"top": top, "lang": lang}, group))
        return _expect(body, ("items",), ImportanceList)

    def fairness(self, lang: Lang = "en") -> Fairness:
        """``GET /v1/model/fairness``: group fairness of the decisions, out of fold."""
        body = self._get("/v1/model/fairness", lang=lang)
        return _expect(body, ("attributes", "summary"), Fairness)

    def drift(self) -> DriftSummary:
        """``GET /v1/model/drift``: data drift of the applications the API scored lately
        (docs/drift.md)."""
        body = self._get("/v1/model/drift")
        return _expect(body, ("status", "drifted", "features", "window"), DriftSummary)


def _json(response: httpx.Response, attempts: int) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ApiResponseError(
            "the API answered with a body that is not JSON",
            response.status_code,
            request_id=response.headers.get("X-Request-ID"),
            attempts=attempts,
        ) from exc


def _unanswered(exc: httpx.TransportError, attempts: int) -> ApiError:
    """No answer: a timeout, or a connection that failed (the message names which)."""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if isinstance(exc, httpx.TimeoutException):
        return ApiTimeout(
            f"the API did not answer in time ({type(exc).__name__}){tries}", attempts=attempts
        )
    return ApiUnavailable(
        f"the API cannot be reached ({type(exc).__name__}){tries}", attempts=attempts
    )


def _refused(response: httpx.Response, retry_after: float | None, attempts: int) -> ApiError:
    """An error status, as the typed exception a caller knows how to handle."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    return error_for(
        response.status_code,
        detail,
        retry_after=retry_after,
        request_id=response.headers.get("X-Request-ID"),
        attempts=attempts,
    )
