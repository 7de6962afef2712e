"""What the hot path is made of: request ids without a uuid per request, the API key solved
once per protected route, unknown query parameters refused by the route class, and workers
that map the clients' tables an earlier one built instead of reading the source again."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pytest
from fastapi import APIRouter, Depends, Query
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.deps import CheckedRoute, Ctx, api_key_header, protected_router, unchecked_query_routes
from api.observability import RequestIds
from api.services import Services
from api.settings import Settings
from scoring.shared import is_mapped
from tests.api.conftest import HEADERS

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_request_ids_are_32_hex_digits_unique_in_a_process_and_across_processes() -> None:
    ids = RequestIds()
    made = [ids.next() for _ in range(1000)]
    assert all(HEX32.match(one) for one in made)
    assert len(set(made)) == 1000
    assert RequestIds().next()[:16] != made[0][:16]  # another process: another prefix
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked worker draws its own prefix
        os.write(write, ids.next().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert HEX32.match(child)
    assert child[:16] != made[0][:16]


def _dependencies(route: APIRoute) -> list[object]:
    return [sub.call for sub in route.dependant.dependencies]


def test_a_protected_route_solves_the_key_once_and_first() -> None:
    router = protected_router("/x", "x")

    @router.get("/takes-ctx")
    async def takes_ctx(ctx: Ctx) -> dict[str, str]:
        return {}

    @router.get("/no-ctx")
    async def no_ctx() -> dict[str, str]:
        return {}

    async def other() -> None:
        return None

    @router.get("/other-dependency", dependencies=[Depends(other)])
    async def with_other(ctx: Ctx) -> dict[str, str]:
        return {}

    routes = {route.path: route for route in router.routes if isinstance(route, APIRoute)}
    assert _dependencies(routes["/x/takes-ctx"]) == [api_key_header]
    assert _dependencies(routes["/x/no-ctx"]) == [api_key_header]  # never unprotected
    # the key before any other dependency (a costly slot), then again from its cache
    assert _dependencies(routes["/x/other-dependency"]) == [api_key_header, other, api_key_header]


def test_a_route_taking_query_parameters_outside_the_checked_class_is_reported() -> None:
    plain = APIRouter()

    @plain.get("/plain")
    async def plain_route(q: Annotated[int, Query()] = 1) -> dict[str, int]:
        return {"q": q}

    @plain.get("/no-query")
    async def no_query() -> dict[str, int]:
        return {}

    checked = protected_router("/c", "c")

    @checked.get("/query")
    async def checked_route(ctx: Ctx, q: Annotated[int, Query()] = 1) -> dict[str, int]:
        return {"q": q}

    assert unchecked_query_routes([*plain.routes, *checked.routes]) == ["/plain"]


def test_a_second_worker_maps_the_clients_tables_without_reading_the_source(
    base_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.observability import Metrics
    from api.services import build
    from scoring.clients import ClientBase

    settings = base_settings.model_copy(
        update={"scoring_cache": tmp_path / "cache", "api_warm_cache": False}
    )
    first = build(settings, Metrics())
    try:
        features, ids = first.store.features.copy(), first.store.ids.copy()
        raw = first.store.raw.copy()
    finally:
        first.audit.stop()

    def not_read(*_: object, **__: object) -> None:
        raise AssertionError("the source was read again")

    monkeypatch.setattr(ClientBase, "load", classmethod(not_read))
    second = build(settings, Metrics())
    try:
        np.testing.assert_array_equal(second.store.ids, ids)
        np.testing.assert_array_equal(second.store.features, features)  # NaN-aware
        pd.testing.assert_frame_equal(second.store.raw, raw)
        assert second.store.base.tables == first.store.base.tables
        numeric = second.store.raw.select_dtypes("number").columns
        assert any(is_mapped(second.store.raw[c].to_numpy(copy=False)) for c in numeric)
    finally:
        second.audit.stop()


def test_the_fast_path_answers_as_the_route_and_leaves_it_what_it_cannot_read(
    client: TestClient, services: Services, client_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.routes import clients

    [route] = [
        r
        for r in clients.router.routes
        if isinstance(r, CheckedRoute) and r.endpoint is clients.client_explanation
    ]
    fast = route.fast
    assert fast is not None
    answered: list[bool] = []

    async def spy(request: Any) -> Any:
        response = await fast(request)
        answered.append(response is not None)
        return response

    monkeypatch.setattr(route, "fast", spy)
    cid = client_ids[0]
    before = services.audit.count()

    def get(query: str, headers: dict[str, str] = HEADERS) -> Any:
        return client.get(f"/v1/clients/{cid}/explanation{query}", headers=headers)

    quick, ordinary = get("?top=7&lang=fr&group=true"), get("?top=07&lang=fr&group=on")
    assert answered == [True, False]  # "07" and "on": FastAPI's own reading
    assert quick.status_code == ordinary.status_code == 200
    assert quick.content == ordinary.content
    same = {"content-type", "content-length", "cache-control", "x-content-type-options"}
    assert {k: quick.headers[k] for k in same} == {k: ordinary.headers[k] for k in same}
    assert quick.headers["X-Request-ID"] != ordinary.headers["X-Request-ID"]
    assert services.audit.count() == before + 2  # both decisions audited, once each
    rows = services.audit.rows()[-2:]
    assert [r["route"] for r in rows] == ["/v1/clients/{client_id}/explanation"] * 2
    assert [r["request_id"] for r in rows] == [
        quick.headers["X-Request-ID"],
        ordinary.headers["X-Request-ID"],
    ]
    # no query: the route's own defaults, read by the fast path
    assert get("").content == get("?top=010&lang=en&group=off").content
    assert answered[2:4] == [True, False]
    del answered[2:4]
    # what the fast path leaves alone gets the route's own answers
    assert get("", headers={}).status_code == 401
    assert get("?top=0").status_code == 422
    assert client.get("/v1/clients/1/explanation", headers=HEADERS).status_code == 404
    assert get("?tops=3").status_code == 422  # an unknown name: refused before either
    assert answered[2:] == [False, False, False]
