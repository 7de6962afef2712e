"""Every error the API can answer, mapped to HTTP in one place. Bodies are ``{"detail": ...}``
and never carry a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.audit import AuditUnavailableError
from api.drift_store import DriftUnavailableError
from scoring.errors import (
    BundleError,
    DataValidationError,
    ImplausibleValueError,
    InvalidFeatureValueError,
    ScoringError,
    UnknownColumnError,
    UnknownFeatureError,
)

log = logging.getLogger("api.errors")
RETRY_AFTER_S = "1"


class NotFoundError(Exception):
    """A client or feature named in the path does not exist."""

    def __init__(self, what: str, key: object) -> None:
        self.detail = f"{what} {key} not found"
        super().__init__(self.detail)


class PayloadTooLargeError(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class NotReadyError(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


def _json(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def status_of(exc: Exception) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, PayloadTooLargeError):
        return 413
    if isinstance(
        exc,
        UnknownFeatureError
        | InvalidFeatureValueError
        | ImplausibleValueError
        | UnknownColumnError
        | DataValidationError,
    ):
        return 422
    if isinstance(exc, AuditUnavailableError | DriftUnavailableError | NotReadyError | BundleError):
        return 503
    return 500


async def handle_known(request: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    if status == 503:
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None and isinstance(exc, AuditUnavailableError):
            metrics.audit_failures.inc()
    detail = getattr(exc, "detail", None) or str(exc)
    # a stalled or overloaded audit log, or an API still starting: worth retrying shortly
    headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
    return _json(status, detail, headers)


async def handle_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Keep loc/msg/type only: echoing the input back could hold NaN (not JSON) or personal data.
    errors = [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]
    return _json(422, errors)


# What a body that is not UTF-8 gets: the shape and type of FastAPI's own answer to a body that
# is not JSON, so that the contract has one 422 for both.
NOT_UTF8 = {"loc": ["body"], "msg": "the body is not UTF-8 encoded JSON", "type": "json_invalid"}


async def handle_http(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI answers 400 "There was an error parsing the body" when the body cannot even be
    decoded (malformed UTF-8), a status the contract does not have: 422, as for bad JSON."""
    if exc.status_code == 400 and exc.__cause__ is not None:
        return _json(422, [NOT_UTF8])
    return await http_exception_handler(request, exc)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
    return _json(500, "internal server error")


def install(app: FastAPI) -> None:
    known = (
        NotFoundError,
        PayloadTooLargeError,
        NotReadyError,
        AuditUnavailableError,
        DriftUnavailableError,
    )
    for exc_type in known:
        app.add_exception_handler(exc_type, handle_known)
    app.add_exception_handler(ScoringError, handle_known)
    app.add_exception_handler(RequestValidationError, handle_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, handle_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, handle_unexpected)
