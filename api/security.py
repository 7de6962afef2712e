"""Security headers on every response, CORS for the configured browser origins only, and no
query parameter the route does not know.

The API answers JSON to programs, so its pages may be framed by nobody, sniffed as nothing,
cached nowhere when they carry client data, and its JSON loads no resource at all
(``default-src 'none'``). The documentation pages set their own, wider policy (api/docs.py).
Unknown query parameters are refused by the API routers' route class (api/deps.py).
Behind HTTPS (App Service terminates TLS and says so with ``X-Forwarded-Proto: https``) browsers
are told to keep to HTTPS (HSTS)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000; includeSubDomains"
_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_CSP = b"content-security-policy"
_CACHE = b"cache-control"
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")


class SecurityHeadersMiddleware:
    """Adds the headers of this module to every HTTP response; a header the app set itself
    (the docs' Content-Security-Policy, a cache policy) is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(_ALWAYS)
        if _behind_https(scope):
            extra.append((b"strict-transport-security", HSTS.encode()))
        # /v1 answers carry client data: never stored by a browser or a proxy.
        private = scope["path"].startswith("/v1/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(extra)
                if _CSP not in present:
                    headers.append((_CSP, API_POLICY.encode()))
                if private and _CACHE not in present:
                    headers.append((_CACHE, b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _behind_https(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-proto":
            return value.split(b",")[0].strip().lower() == b"https"
    return False


def cors_origins(spec: str) -> list[str]:
    """The origins of API_CORS_ORIGINS (comma-separated), as given."""
    return [item.strip().rstrip("/") for item in spec.split(",") if item.strip()]


def invalid_origins(spec: str) -> list[str]:
    """Entries that are not a plain ``scheme://host[:port]`` origin (``*`` included)."""
    return [origin for origin in cors_origins(spec) if not _ORIGIN.fullmatch(origin)]


def install(app: FastAPI, cors: str) -> None:
    """CORS for `cors` (none when empty: browsers then refuse every cross-origin call), inside
    the security headers so that preflight answers carry them too."""
    origins = cors_origins(cors)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            allow_credentials=False,
            max_age=600,
        )


def refuse_unknown_query(names: Iterable[str], known: frozenset[str]) -> None:
    """422 naming the query parameters of ``names`` a route that takes ``known`` (some) does
    not know. A misspelt ``?langue=fr`` would otherwise be ignored silently, and the answer be
    another one than the caller believes. Routes that take no query parameter (health probes)
    ignore what they are sent: call this only when ``known`` is not empty."""
    unknown = [name for name in names if name not in known]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "unknown query parameter",
                    "type": "extra_forbidden",
                }
                for name in unknown[:10]
            ]
        )


def query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route takes, its dependencies' included."""
    return frozenset(_query_names(dependant))


def _query_names(dependant: Dependant) -> list[str]:
    names = [field.alias for field in dependant.query_params]
    for sub in dependant.dependencies:
        names.extend(_query_names(sub))
    return names
