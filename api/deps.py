"""The dependency of the protected routes: one flat ``Ctx`` (services, API key with rate limit,
decision auditor), resolved once per request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from starlette.routing import BaseRoute

from api import security
from api.audit import JSON_HASH_KIND, AuditEntry, AuditLog, Commit, EntryBatch
from api.errors import NotReadyError
from api.jsonbody import OrjsonRoute
from api.schemas import Message
from api.services import Services
from api.store import ClientStore
from scoring.decision import Decision
from scoring.fingerprint import ROW_HASH_KIND
from scoring.model import RowScores, ScoringModel
from scoring.neighbors import NeighborIndex

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


class Scored(Protocol):
    """What the audit log records of a decision (the core's Score and Explanation are)."""

    @property
    def probability(self) -> float: ...

    @property
    def decision(self) -> Decision: ...

    @property
    def model_version(self) -> str: ...

    @property
    def threshold(self) -> float: ...

    @property
    def decision_reason(self) -> str: ...


@dataclass(frozen=True)
class Auditor:
    """Writes the audit rows of one request; awaiting it means they are committed."""

    log: AuditLog
    request_id: str
    key_name: str
    route: str

    def entry(
        self,
        score: Scored,
        client_id: int | None = None,
        input_hash: str | None = None,
        hash_kind: str = JSON_HASH_KIND,
    ) -> AuditEntry:
        """The row of one decision; ``hash_kind`` says how ``input_hash`` was computed."""
        return AuditEntry(
            request_id=self.request_id,
            key_name=self.key_name,
            route=self.route,
            model_version=score.model_version,
            probability=score.probability,
            decision=score.decision,
            client_id=client_id,
            input_hash=input_hash,
            threshold=score.threshold,
            decision_reason=score.decision_reason,
            input_hash_kind=None if input_hash is None else hash_kind,
        )

    async def decision(
        self,
        score: Scored,
        client_id: int | None = None,
        input_hash: str | None = None,
        hash_kind: str = JSON_HASH_KIND,
    ) -> None:
        """Log one decision served; returns once it is committed (else AuditUnavailableError)."""
        await self.log.begin(self.entry(score, client_id, input_hash, hash_kind))

    def begin_decision(
        self,
        score: Scored,
        client_id: int | None = None,
        input_hash: str | None = None,
        hash_kind: str = JSON_HASH_KIND,
    ) -> Commit:
        """Queue the row of one decision now; awaiting the result waits for its commit (the
        response is built meanwhile, and sent only once the row is committed)."""
        return self.log.begin(self.entry(score, client_id, input_hash, hash_kind))

    def batch_entries(self, scores: RowScores, input_hashes: Sequence[str]) -> EntryBatch:
        """The rows of a batch's decisions (``ScoringModel.decide_rows``), one per record, with
        their records' row-v1 hashes: the fields of ``entry`` as columns (``EntryBatch``),
        without one object per record."""
        return EntryBatch(
            request_id=self.request_id,
            key_name=self.key_name,
            route=self.route,
            model_version=scores.model_version,
            threshold=scores.threshold,
            input_hash_kind=ROW_HASH_KIND,
            probability=scores.probability,
            decision=scores.decision,
            decision_reason=scores.reason,
            input_hash=input_hashes,
        )

    async def decisions(self, entries: Sequence[AuditEntry]) -> None:
        """Log the decisions of a batch, committed together."""
        await self.log.begin_all(entries)


@dataclass(frozen=True, slots=True)
class Context:
    """What a protected route needs, resolved once per request by one dependency."""

    services: Services
    key_name: str
    auditor: Auditor

    @property
    def model(self) -> ScoringModel:
        return self.services.model

    @property
    def store(self) -> ClientStore:
        return self.services.store

    @property
    def neighbors(self) -> NeighborIndex:
        return self.services.neighbors


def _services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise NotReadyError("the API is starting")
    return services


async def context(request: Request, key: str | None) -> Context:
    """The caller's key (401 without a valid key, 429 with Retry-After over the limit), the
    services and the request's auditor."""
    services = _services(request)
    name = services.keys.identify(key)
    if name is None:
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API key (header X-API-Key)",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    return await admitted(request, services, name)


def known_key(request: Request) -> tuple[Services, str] | None:
    """The services and the caller's key name when the API is up and the key is valid; None
    otherwise (then ``context`` says why). Nothing counted: no side effect."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        return None
    name = services.keys.identify(request.headers.get(api_key_header.model.name))
    return None if name is None else (services, name)


async def admitted(request: Request, services: Services, name: str) -> Context:
    """The request of key ``name`` counted by the rate limiter (429 with Retry-After over the
    limit), and its context."""
    verdict = await services.limiter.hit(name)
    if not verdict.allowed:
        raise HTTPException(
            status_code=429,
            detail=f"rate limit exceeded; retry in {verdict.retry_after} s",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    route = request.scope.get("route")
    template = route.path if route is not None else request.url.path
    request_id = request.scope.get("state", {}).get("request_id", "-")
    return Context(services, name, Auditor(services.audit, request_id, name, template))


class KeyContext(APIKeyHeader):
    """The API key scheme of the OpenAPI document, which, called, resolves the request's whole
    ``Context``: the one dependency of every /v1 route, with no dependency of its own. Flat on
    purpose: FastAPI solves every sub-dependency again wherever it appears (its cache only saves
    the call), so a nested key-header dependency cost a third of a cached explanation's CPU."""

    async def __call__(self, request: Request) -> Context:  # type: ignore[override]
        return await context(request, request.headers.get(self.model.name))


api_key_header = KeyContext(
    name="X-API-Key", scheme_name="APIKeyHeader", auto_error=False, description="API key"
)
Ctx = Annotated[Context, Depends(api_key_header)]


FastPath = Callable[[Request], Awaitable[Response | None]]


class CheckedRoute(OrjsonRoute):
    """The route class of the API's routers: a JSON body read by orjson, and query parameters
    the route does not know refused with 422 naming them, before anything else (the key
    included), in the route's own handler rather than as an app-wide dependency (FastAPI solves
    each dependency level per request: a third of a cached explanation's dependency cost).

    A route may have a ``fast`` path (``fast_path``): tried first, it answers the requests it
    can read without doubt, with the same checks, errors and response, and hands every other
    one (None) to FastAPI's own solving, before any side effect of its own."""

    fast: FastPath | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        known = security.query_names(self.dependant)
        route = self

        async def checked(request: Request) -> Response:
            if known and request.scope.get("query_string"):
                security.refuse_unknown_query(request.query_params.keys(), known)
            fast = route.fast
            if fast is not None:
                answer = await fast(request)
                if answer is not None:
                    return answer
            return await handler(request)

        return checked


def fast_path(router: APIRouter, endpoint: Callable[..., Any]) -> Callable[[FastPath], FastPath]:
    """Give the route of ``endpoint`` in ``router`` the decorated function as its fast path."""

    def install(fast: FastPath) -> FastPath:
        routes = [
            r for r in router.routes if isinstance(r, CheckedRoute) and r.endpoint is endpoint
        ]
        if len(routes) != 1:
            raise RuntimeError(f"fast path: no single checked route for {endpoint.__name__}")
        routes[0].fast = fast
        return fast

    return install


class ProtectedRouter(APIRouter):
    """A router whose every route needs an API key, checked before anything else. A route that
    takes the ``Ctx`` dependency and no other gets it once, from its parameter; any other gets
    it as its first route dependency (solved first: no costly slot is taken by a caller without
    a key). Not a router-wide dependency: FastAPI would solve it a second time for every route
    that also takes ``Ctx`` (its cache saves the call, not the solving)."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        dependencies = list(kwargs.pop("dependencies", None) or [])
        super().add_api_route(path, endpoint, dependencies=dependencies, **kwargs)
        route = self.routes[-1]
        if dependencies or not (isinstance(route, APIRoute) and _takes_key(route.dependant)):
            self.routes.pop()
            dependencies.insert(0, Depends(api_key_header))
            super().add_api_route(path, endpoint, dependencies=dependencies, **kwargs)


def _takes_key(dependant: Dependant) -> bool:
    return any(sub.call is api_key_header for sub in dependant.dependencies)


def protected_router(
    prefix: str, tag: str, extra: dict[int | str, dict[str, Any]] | None = None
) -> APIRouter:
    """A router whose every route needs an API key, documenting 401 and 429 (and `extra`)."""
    responses: dict[int | str, dict[str, Any]] = {
        401: {"model": Message},
        429: {"model": Message},
        **(extra or {}),
    }
    return ProtectedRouter(
        prefix=prefix,
        tags=[tag],
        route_class=CheckedRoute,
        responses=dict(sorted(responses.items(), key=lambda item: int(item[0]))),
    )


def unchecked_query_routes(routes: Iterable[BaseRoute]) -> list[str]:
    """Paths of the routes that take query parameters but do not refuse unknown ones (not a
    ``CheckedRoute``): create_app refuses to build such an app."""
    return [
        route.path
        for route in routes
        if isinstance(route, APIRoute)
        and not isinstance(route, CheckedRoute)
        and security.query_names(route.dependant)
    ]
