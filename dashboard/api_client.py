"""The dashboard's only door to the scoring API: a typed HTTP client of docs/api-contract.md.

Pure httpx, no Streamlit: the pages reach it through ``dashboard.cached_api`` (caching) and tests
drive it with ``httpx.MockTransport``. Every failure surfaces as one of four typed exceptions so
that a page can show a clear message and a retry button instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypedDict, TypeVar, cast

import httpx

Decision = Literal["grant", "refuse", "refer"]
Lang = Literal["en", "fr"]
RawValue = str | float | int | None


# --- errors ------------------------------------------------------------------------------------
class ApiError(Exception):
    """The API answered something the dashboard cannot use (422, 429, 5xx, a malformed body)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiUnavailable(ApiError):  # noqa: N818  (names fixed by the brief)
    """The API cannot be reached, is not ready (503) or is too slow."""


class ApiTimeout(ApiUnavailable):
    """The API did not answer within the client's timeout."""


class ApiAuthError(ApiError):
    """The API key is missing or refused (401/403)."""


class ApiNotFound(ApiError):  # noqa: N818
    """The client (or feature) does not exist (404)."""


# --- response shapes (docs/api-contract.md) ----------------------------------------------------
class Score(TypedDict):
    probability: float
    decision: Decision
    missing_key_features: list[str]  # why a "refer": the key features the record lacks
    threshold: float
    model_version: str


class ClientScore(Score):
    client_id: int


class Contribution(TypedDict):
    feature: str
    label: str
    value: float | None
    value_text: str  # the value as words, in the language asked for
    shap: float


class Rest(TypedDict):
    count: int
    shap: float


# "for" is a Python keyword: the functional syntax keeps the contract's field name.
Reasons = TypedDict("Reasons", {"against": list[str], "for": list[str]})


class Explanation(Score):
    client_id: int | None
    base_value: float
    raw_score: float
    contributions: list[Contribution]
    rest: Rest
    reasons: Reasons


class ClientPage(TypedDict):
    total: int
    limit: int
    offset: int
    items: list[int]


class FeatureInfo(TypedDict):
    name: str
    label: str
    description: str
    dtype: str
    sources: list[str]
    importance: float
    actionable: bool
    valid_min: float | None
    valid_max: float | None


class RawField(TypedDict):
    name: str
    label: str
    value: RawValue
    description: str
    valid_min: float | None  # the range a what-if change may set (docs/plausibility.md)
    valid_max: float | None


class ClientRecord(TypedDict):
    client_id: int
    fields: list[RawField]


class Distribution(TypedDict):
    feature: str
    label: str
    by: str
    bin_edges: list[float]
    counts_0: list[int]
    counts_1: list[int]
    labels: list[str]
    missing_0: int
    missing_1: int
    client_value: float | None


class ScatterPoints(TypedDict):
    x: list[float | None]
    y: list[float | None]
    target: list[int]
    probability: list[float]


class Scatter(TypedDict):
    x: str
    y: str
    points: ScatterPoints


class Neighbor(TypedDict):
    client_id: int
    distance: float
    target: int
    probability: float


class Neighbors(TypedDict):
    client_id: int
    k: int
    default_rate: float
    features: list[str]
    items: list[Neighbor]


class Change(TypedDict):
    column: str
    label: str
    before: float | str | None
    after: float | str
    derived: bool  # follows from another change (the annuity of a same-term loan)


class Counterfactual(TypedDict):
    client_id: int
    found: bool
    decision_before: Decision
    decision_after: Decision | None
    probability_before: float
    probability_after: float | None
    changes: list[Change]
    message: str


class Cost(TypedDict):
    fn: float
    fp: float


class Metrics(TypedDict):
    auc: float
    auc_std: float
    business_cost: float
    business_cost_accept_all: float
    recall: float
    precision: float
    brier: float


class DataSummary(TypedDict):
    rows: int
    defaults: int
    default_rate: float
    features: int
    fingerprint: str


class ReferPolicy(TypedDict):
    top_k: int
    max_missing: int
    features: list[str]


class Registry(TypedDict):
    name: str | None
    version: int | None
    aliases: list[str]


class ComparedModel(TypedDict):
    model: str
    description: str
    auc_mean: float
    auc_std: float
    business_cost: float
    threshold: float


class Comparison(TypedDict):
    default: str
    reason: str
    incumbent: str
    auc_gain_over_incumbent: float
    cost_saving_over_incumbent: float
    baseline: str | None
    auc_gain_over_baseline: float | None
    cost_saving_over_baseline: float | None
    models: list[ComparedModel]


class ModelCard(TypedDict):
    version: str
    trained_at: str
    threshold: float
    refer: ReferPolicy
    cost: Cost
    metrics: Metrics
    data: DataSummary
    library_versions: dict[str, str]
    model: str
    registry: Registry | None
    comparison: Comparison | None


class FairnessGroup(TypedDict):
    group: str
    count: int
    approval_rate: float
    default_rate: float
    false_negative_rate: float | None
    false_positive_rate: float | None
    in_differences: bool


class FairnessAttribute(TypedDict):
    attribute: str
    label: str
    groups: list[FairnessGroup]
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None
    is_model_input: bool
    reading: str


class Fairness(TypedDict):
    model_version: str
    model: str
    threshold: float
    attributes: list[FairnessAttribute]
    auc_without_gender_and_age: float | None
    summary: str


class Importance(TypedDict):
    feature: str
    label: str
    importance: float


class ImportanceList(TypedDict):
    items: list[Importance]


# --- data drift (GET /v1/model/drift): self-contained, for the client package to take whole ---
class FeatureDrift(TypedDict):
    feature: str
    test: str  # ks, chisquare, z, wasserstein, jensenshannon, not_tested
    p_value: float | None
    distance: float | None
    threshold: float | None
    drifted: bool
    score: float  # the value relative to its threshold: above 1 means drifted


class DriftWindow(TypedDict):
    rows: int
    since: str | None
    until: str | None
    min_rows: int


class DriftSummary(TypedDict):
    status: Literal["ok", "insufficient_data", "unavailable"]
    message: str
    dataset_drift: bool | None
    share_drifted: float | None
    drifted: list[str]
    tested: int
    features: list[FeatureDrift]
    window: DriftWindow


class ScoringApi(Protocol):
    """What the pages need from the API; the real client and the tests' fake both provide it."""

    def search_clients(self, search: str, limit: int = 10) -> ClientPage: ...
    def features(self, lang: Lang = "en") -> list[FeatureInfo]: ...
    def client(self, client_id: int, lang: Lang = "en") -> ClientRecord: ...
    def client_features(self, client_id: int) -> dict[str, float | None]: ...
    def explanation(
        self, client_id: int, top: int = 10, lang: Lang = "en", group: bool = False
    ) -> Explanation: ...
    def explain_changes(
        self,
        client_id: int,
        changes: Mapping[str, RawValue],
        top: int = 10,
        lang: Lang = "en",
        group: bool = False,
    ) -> Explanation: ...
    def distribution(
        self,
        feature: str,
        client_id: int,
        by: str = "target",
        bins: int = 20,
        lang: Lang = "en",
    ) -> Distribution: ...
    def scatter(self, x: str, y: str, n: int = 500) -> Scatter: ...
    def neighbors(self, client_id: int, k: int = 10) -> Neighbors: ...
    def counterfactual(self, client_id: int, lang: Lang = "en") -> Counterfactual: ...
    def model(self) -> ModelCard: ...
    def importance(
        self, top: int = 20, lang: Lang = "en", group: bool = False
    ) -> ImportanceList: ...
    def fairness(self, lang: Lang = "en") -> Fairness: ...
    def drift(self) -> DriftSummary: ...


T = TypeVar("T")


def _expect(body: Any, keys: tuple[str, ...], shape: type[T]) -> T:
    """Check that a body has the contract's top-level keys; the types are the API's promise."""
    if not isinstance(body, dict) or any(key not in body for key in keys):
        raise ApiError(f"unexpected response: expected {shape.__name__}")
    return cast(T, body)


_SCORE = ("probability", "decision", "threshold", "model_version")
_EXPLANATION = (*_SCORE, "base_value", "raw_score", "contributions", "rest", "reasons")


class ApiClient:
    """Synchronous client of the scoring API; one instance per (url, key), reused."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"X-API-Key": api_key, "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    # -- transport ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiTimeout(f"the API did not answer in time ({path})") from exc
        except httpx.TransportError as exc:
            raise ApiUnavailable(f"the API cannot be reached ({exc.__class__.__name__})") from exc
        if response.status_code >= 400:
            raise _error_for(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError("the API answered with a body that is not JSON") from exc

    def _get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params=params or None)

    # -- routes ------------------------------------------------------------------------------
    def search_clients(self, search: str, limit: int = 10) -> ClientPage:
        body = self._get("/v1/clients", search=search, limit=limit, offset=0)
        return _expect(body, ("total", "items"), ClientPage)

    def features(self, lang: Lang = "en") -> list[FeatureInfo]:
        return _expect(self._get("/v1/features", lang=lang), ("items",), _FeatureList)["items"]

    def client(self, client_id: int, lang: Lang = "en") -> ClientRecord:
        body = self._get(f"/v1/clients/{client_id}", lang=lang)
        return _expect(body, ("fields",), ClientRecord)

    def client_features(self, client_id: int) -> dict[str, float | None]:
        body = self._get(f"/v1/clients/{client_id}/features")
        return _expect(body, ("features",), _FeatureRecord)["features"]

    def explanation(
        self, client_id: int, top: int = 10, lang: Lang = "en", group: bool = False
    ) -> Explanation:
        params = _grouped({"top": top, "lang": lang}, group)
        body = self._get(f"/v1/clients/{client_id}/explanation", **params)
        return _expect(body, _EXPLANATION, Explanation)

    def explain_changes(
        self,
        client_id: int,
        changes: Mapping[str, RawValue],
        top: int = 10,
        lang: Lang = "en",
        group: bool = False,
    ) -> Explanation:
        payload = {"client_id": client_id, "changes": dict(changes), "top": top, "lang": lang}
        if group:
            payload["group"] = True
        body = self._request("POST", "/v1/explain", json=payload)
        return _expect(body, _EXPLANATION, Explanation)

    def distribution(
        self,
        feature: str,
        client_id: int,
        by: str = "target",
        bins: int = 20,
        lang: Lang = "en",
    ) -> Distribution:
        body = self._get(
            f"/v1/features/{feature}/distribution",
            by=by,
            bins=bins,
            client_id=client_id,
            lang=lang,
        )
        return _expect(body, ("bin_edges", "counts_0", "counts_1", "client_value"), Distribution)

    def scatter(self, x: str, y: str, n: int = 500) -> Scatter:
        return _expect(self._get("/v1/features/scatter", x=x, y=y, n=n), ("points",), Scatter)

    def neighbors(self, client_id: int, k: int = 10) -> Neighbors:
        body = self._get(f"/v1/clients/{client_id}/neighbors", k=k)
        return _expect(body, ("default_rate", "items"), Neighbors)

    def counterfactual(self, client_id: int, lang: Lang = "en") -> Counterfactual:
        body = self._get(f"/v1/clients/{client_id}/counterfactual", lang=lang)
        return _expect(body, ("found", "changes", "message"), Counterfactual)

    def model(self) -> ModelCard:
        return _expect(self._get("/v1/model"), ("version", "threshold", "metrics"), ModelCard)

    def importance(self, top: int = 20, lang: Lang = "en", group: bool = False) -> ImportanceList:
        body = self._get("/v1/model/importance", **_grouped({"top": top, "lang": lang}, group))
        return _expect(body, ("items",), ImportanceList)

    def fairness(self, lang: Lang = "en") -> Fairness:
        body = self._get("/v1/model/fairness", lang=lang)
        return _expect(body, ("attributes", "summary"), Fairness)

    def drift(self) -> DriftSummary:
        """Data drift of the applications the API scored lately (docs/drift.md)."""
        body = self._get("/v1/model/drift")
        return _expect(body, ("status", "drifted", "features", "window"), DriftSummary)


def _grouped(params: dict[str, Any], group: bool) -> dict[str, Any]:
    """``params`` asking for merged related features (the external scores) when ``group``."""
    return {**params, "group": "true"} if group else params


class _FeatureList(TypedDict):
    items: list[FeatureInfo]


class _FeatureRecord(TypedDict):
    client_id: int
    model_version: str
    features: dict[str, float | None]


def _error_for(response: httpx.Response) -> ApiError:
    """Map an error status to the typed exception a page knows how to explain."""
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = ""
    message = f"HTTP {response.status_code}: {detail}" if detail else f"HTTP {response.status_code}"
    status = response.status_code
    if status in (401, 403):
        return ApiAuthError(message, status)
    if status == 404:
        return ApiNotFound(message, status)
    if status in (502, 503):
        return ApiUnavailable(message, status)
    if status == 504:
        return ApiTimeout(message, status)
    return ApiError(message, status)
