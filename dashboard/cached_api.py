"""The pages' view of the API: one client factory (the test seam) and cached responses.

Responses are cached per client (and language) with a TTL, so moving between pages costs no
extra API call; errors are never cached, so "Retry" really asks again. Explanations and
importances are asked with related features merged (``group``): what an advisor reads.

The client is the shared package's (pret_a_depenser_client) with the dashboard's retry policy:
a person waits on the page, so a 429 or 503 is retried twice, briefly, and a Retry-After over
5 s is not waited for (the page says the service is busy and offers Retry).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx
import streamlit as st

from dashboard import api_client
from dashboard.api_client import RawValue, RetryPolicy, ScoringApi
from dashboard.i18n import Lang
from dashboard.settings import load_settings

CLIENT_TTL_S = 300
MODEL_TTL_S = 3600
DRIFT_TTL_S = 60  # the API recomputes drift at most every minute by default


RETRY = RetryPolicy(max_attempts=3, backoff_s=0.25, backoff_max_s=2.0, retry_after_max_s=5.0)


def make_client(
    api_url: str,
    api_key: str,
    timeout_s: float,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> api_client.ApiClient:
    """The dashboard's client (``transport`` and ``sleep``: the tests' seams)."""
    return api_client.ApiClient(
        api_url, api_key, timeout=timeout_s, retry=RETRY, transport=transport, sleep=sleep
    )


@st.cache_resource(show_spinner=False)
def _shared_client(api_url: str, api_key: str, timeout_s: float) -> api_client.ApiClient:
    # One connection pool per server process: keep-alive saves a TCP handshake per call.
    return make_client(api_url, api_key, timeout_s)


def get_client() -> ScoringApi:
    """The API client the pages use. Tests replace this function with a fake."""
    settings = load_settings()
    return _shared_client(settings.api_url, settings.api_key, settings.timeout_s)


def _api() -> ScoringApi:
    # Looked up at call time so that a monkeypatched get_client is honoured.
    return get_client()


@st.cache_data(ttl=CLIENT_TTL_S, show_spinner=False, max_entries=512)
def search_clients(query: str, limit: int = 10) -> api_client.ClientPage:
    return _api().search_clients(query, limit=limit)


@st.cache_data(ttl=CLIENT_TTL_S, show_spinner=False, max_entries=512)
def explanation(client_id: int, lang: Lang, top: int = 10) -> api_client.Explanation:
    return _api().explanation(client_id, top=top, lang=lang, group=True)


@st.cache_data(ttl=CLIENT_TTL_S, show_spinner=False, max_entries=512)
def client_record(client_id: int, lang: Lang) -> api_client.ClientRecord:
    return _api().client(client_id, lang=lang)


@st.cache_data(ttl=CLIENT_TTL_S, show_spinner=False, max_entries=512)
def client_features(client_id: int) -> dict[str, float | None]:
    return _api().client_features(client_id)


@st.cache_data(ttl=CLIENT_TTL_S, show_spinner=False, max_entries=512)
def distribution(feature: str, client_id: int, lang: Lang) -> api_client.Distribution:
    return _api().distribution(feature, client_id, lang=lang)


@st.cache_data(ttl=MODEL_TTL_S, show_spinner=False, max_entries=64)
def scatter(x: str, y: str) -> api_client.Scatter:
    return _api().scatter(x, y)


@st.cache_data(ttl=CLIENT_TTL_S, show_spinner=False, max_entries=512)
def neighbors(client_id: int, k: int = 10) -> api_client.Neighbors:
    return _api().neighbors(client_id, k=k)


@st.cache_data(ttl=CLIENT_TTL_S, show_spinner=False, max_entries=512)
def counterfactual(client_id: int, lang: Lang) -> api_client.Counterfactual:
    return _api().counterfactual(client_id, lang=lang)


@st.cache_data(ttl=CLIENT_TTL_S, show_spinner=False, max_entries=512)
def what_if(
    client_id: int, changes: tuple[tuple[str, RawValue], ...], lang: Lang
) -> api_client.Explanation:
    # Changes arrive as a sorted tuple so that the same simulation is not recomputed.
    change_map: Mapping[str, RawValue] = dict(changes)
    return _api().explain_changes(client_id, change_map, lang=lang, group=True)


@st.cache_data(ttl=MODEL_TTL_S, show_spinner=False)
def features(lang: Lang) -> list[api_client.FeatureInfo]:
    return _api().features(lang=lang)


@st.cache_data(ttl=MODEL_TTL_S, show_spinner=False)
def model() -> api_client.ModelCard:
    return _api().model()


@st.cache_data(ttl=MODEL_TTL_S, show_spinner=False)
def importance(lang: Lang, top: int = 20) -> api_client.ImportanceList:
    return _api().importance(top=top, lang=lang, group=True)


@st.cache_data(ttl=MODEL_TTL_S, show_spinner=False)
def fairness(lang: Lang) -> api_client.Fairness:
    return _api().fairness(lang=lang)


@st.cache_data(ttl=DRIFT_TTL_S, show_spinner=False)
def drift() -> api_client.DriftSummary:
    return _api().drift()
