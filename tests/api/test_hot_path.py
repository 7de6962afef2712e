"""What the hot path is made of: request ids without a uuid per request, the API key solved
once per protected route, unknown query parameters refused by the route class."""

from __future__ import annotations

import os
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.routing import APIRoute

from api.deps import Ctx, api_key_header, protected_router, unchecked_query_routes
from api.observability import RequestIds

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
