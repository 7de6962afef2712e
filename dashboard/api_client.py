"""The dashboard's door to the scoring API: the shared client package, ``pret_a_depenser_client``
(clients/python/, installed by requirements-dashboard.txt), and the part of it the pages use.

One client, not two: the models, the errors and ``ApiClient`` are the package's, re-exported
here so that the pages import them from one place; ``ScoringApi`` is what the pages need of it
(the real client and the tests' fake both provide it). The pages reach it through
``dashboard.cached_api`` (caching, and the dashboard's retry policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pret_a_depenser_client import (
    ApiAuthError,
    ApiClient,
    ApiError,
    ApiNotFound,
    ApiRateLimited,
    ApiTimeout,
    ApiUnavailable,
    Change,
    ClientPage,
    ClientRecord,
    Counterfactual,
    Decision,
    Distribution,
    DriftSummary,
    Explanation,
    Fairness,
    FeatureInfo,
    Importance,
    ImportanceList,
    Lang,
    ModelCard,
    Neighbors,
    RawField,
    RawValue,
    RetryPolicy,
    Scatter,
)

__all__ = [
    "ApiAuthError",
    "ApiClient",
    "ApiError",
    "ApiNotFound",
    "ApiRateLimited",
    "ApiTimeout",
    "ApiUnavailable",
    "Change",
    "ClientPage",
    "ClientRecord",
    "Counterfactual",
    "Decision",
    "Distribution",
    "DriftSummary",
    "Explanation",
    "Fairness",
    "FeatureInfo",
    "Importance",
    "ImportanceList",
    "Lang",
    "ModelCard",
    "Neighbors",
    "RawField",
    "RawValue",
    "RetryPolicy",
    "Scatter",
    "ScoringApi",
]


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
