"""FakeApi behind HTTP: an httpx transport that answers the contract's routes from
tests/dashboard/fake_api.py, so that the dashboard's tests go through the shared client
(pret_a_depenser_client: URLs, query strings, JSON, status codes, retries) and not around it.

A FakeApi error becomes what the real API (or the network) would do: an ApiError with a
status is that status with ``{"detail": ...}``; an ApiTimeout without one is a read timeout;
any other error without a status is a refused connection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx

from dashboard.api_client import ApiError, ApiTimeout
from tests.dashboard.fake_api import FakeApi

Route = Callable[[FakeApi, re.Match[str], dict[str, str], Any], Any]


def _flag(params: dict[str, str]) -> bool:
    return params.get("group") == "true"


ROUTES: list[tuple[str, str, Route]] = [
    (
        "GET",
        r"/v1/clients",
        lambda api, m, q, b: api.search_clients(q.get("search", ""), int(q.get("limit", "10"))),
    ),
    ("GET", r"/v1/features", lambda api, m, q, b: {"items": api.features(q.get("lang", "en"))}),
    (
        "GET",
        r"/v1/features/scatter",
        lambda api, m, q, b: api.scatter(q["x"], q["y"], int(q.get("n", "500"))),
    ),
    (
        "GET",
        r"/v1/features/(?P<name>[^/]+)/distribution",
        lambda api, m, q, b: api.distribution(
            m["name"],
            int(q["client_id"]),
            by=q.get("by", "target"),
            bins=int(q.get("bins", "20")),
            lang=q.get("lang", "en"),
        ),
    ),
    (
        "GET",
        r"/v1/clients/(?P<id>\d+)",
        lambda api, m, q, b: api.client(int(m["id"]), lang=q.get("lang", "en")),
    ),
    (
        "GET",
        r"/v1/clients/(?P<id>\d+)/features",
        lambda api, m, q, b: {
            "client_id": int(m["id"]),
            "model_version": "fake",
            "features": api.client_features(int(m["id"])),
        },
    ),
    (
        "GET",
        r"/v1/clients/(?P<id>\d+)/explanation",
        lambda api, m, q, b: api.explanation(
            int(m["id"]), top=int(q.get("top", "10")), lang=q.get("lang", "en"), group=_flag(q)
        ),
    ),
    (
        "GET",
        r"/v1/clients/(?P<id>\d+)/neighbors",
        lambda api, m, q, b: api.neighbors(int(m["id"]), k=int(q.get("k", "10"))),
    ),
    (
        "GET",
        r"/v1/clients/(?P<id>\d+)/counterfactual",
        lambda api, m, q, b: api.counterfactual(int(m["id"]), lang=q.get("lang", "en")),
    ),
    (
        "POST",
        r"/v1/explain",
        lambda api, m, q, b: api.explain_changes(
            b["client_id"],
            b["changes"],
            top=b.get("top", 10),
            lang=b.get("lang", "en"),
            group=b.get("group", False),
        ),
    ),
    ("GET", r"/v1/model", lambda api, m, q, b: api.model()),
    (
        "GET",
        r"/v1/model/importance",
        lambda api, m, q, b: api.importance(
            top=int(q.get("top", "20")), lang=q.get("lang", "en"), group=_flag(q)
        ),
    ),
    ("GET", r"/v1/model/fairness", lambda api, m, q, b: api.fairness(lang=q.get("lang", "en"))),
    ("GET", r"/v1/model/drift", lambda api, m, q, b: api.drift()),
]


def _detail(error: ApiError) -> str:
    # the client writes "HTTP <status>: <detail>"; the API sends the detail alone
    return re.sub(r"^HTTP \d+: ?", "", str(error))


def transport(api: FakeApi) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers.get("X-API-Key") != "dashboard-test-key":
            return httpx.Response(401, json={"detail": "invalid API key"})
        query = dict(request.url.params)
        body = json.loads(request.content) if request.content else None
        for method, pattern, route in ROUTES:
            match = re.fullmatch(pattern, request.url.path)
            if match is None or method != request.method:
                continue
            try:
                return httpx.Response(200, json=route(api, match, query, body))
            except ApiError as error:
                if error.status is not None:
                    return httpx.Response(error.status, json={"detail": _detail(error)})
                if isinstance(error, ApiTimeout):
                    raise httpx.ReadTimeout(str(error), request=request) from error
                raise httpx.ConnectError(str(error), request=request) from error
        return httpx.Response(404, json={"detail": "Not Found"})

    return httpx.MockTransport(handle)
