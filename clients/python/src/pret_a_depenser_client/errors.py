"""Every way a call can fail, as one exception hierarchy rooted at ``ApiError``.

::

    ApiError                  any failure; .status, .detail, .retry_after, .request_id, .attempts
    ├── ApiAuthError          401 / 403: the key is missing or refused
    ├── ApiNotFound           404: no such client or feature
    ├── ApiRequestTooLarge    413: a body or a batch over the API's limits
    ├── ApiValidationError    422: the request is wrong; .errors names each field
    ├── ApiRateLimited        429: over the key's rate limit, after the client's retries
    ├── ApiResponseError      a body the client cannot read (not JSON, not the contract)
    └── ApiUnavailable        unreachable, 502 / 503, after the client's retries
        └── ApiTimeout        no answer within the timeout (or a 504 from a proxy)
"""

from __future__ import annotations

from typing import Any, TypedDict, cast


class FieldError(TypedDict):
    """One reason a request was refused (a 422): where (``["body", "features", "X"]``), what."""

    loc: list[str | int]
    msg: str
    type: str


class ApiError(Exception):
    """The API could not be used for this call; ``str(error)`` says why in one line."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        detail: Any = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, None when no answer came
        self.detail = detail  # the body's "detail" as sent (a sentence or a list of FieldError)
        self.retry_after = retry_after  # seconds the server asked to wait (Retry-After)
        self.request_id = request_id  # X-Request-ID of the answer: quote it to the API's team
        self.attempts = attempts  # how many requests were sent, retries included


class ApiAuthError(ApiError):
    """The API key is missing or refused (401/403). Never retried."""


class ApiNotFound(ApiError):  # noqa: N818  (the names the dashboard has always used)
    """The client or feature does not exist (404)."""


class ApiRequestTooLarge(ApiError):  # noqa: N818
    """The body or the batch is over the API's limits (413): split it."""


class ApiValidationError(ApiError):
    """The request is wrong (422). ``errors`` lists each field error; ``fields`` their names."""

    @property
    def errors(self) -> list[FieldError]:
        if isinstance(self.detail, list):
            return [cast(FieldError, e) for e in self.detail if isinstance(e, dict)]
        return []

    @property
    def fields(self) -> list[str]:
        """The last element of each error's location: the field to fix (``AMT_CREDIT``)."""
        return [str(e["loc"][-1]) for e in self.errors if e.get("loc")]


class ApiRateLimited(ApiError):  # noqa: N818
    """Over the key's rate limit (429) after the client's retries; ``retry_after`` says when
    the API will take the next call."""


class ApiResponseError(ApiError):
    """The API answered a body the client cannot read (not JSON, or not the contract's shape)."""


class ApiUnavailable(ApiError):  # noqa: N818
    """The API cannot be reached, or is not ready or overloaded (502/503), after the retries."""


class ApiTimeout(ApiUnavailable):
    """The API did not answer within the timeout (or a proxy answered 504)."""


def _field_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    loc = [str(part) for part in error.get("loc", []) if part not in ("body", "query", "path")]
    where = ".".join(loc)
    return f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", ""))


def describe(detail: Any) -> str:
    """The body's ``detail`` in one line: the sentence, or each field error as ``field: msg``."""
    if isinstance(detail, list):
        return "; ".join(_field_text(e) for e in detail)
    return "" if detail is None else str(detail)


def error_for(
    status: int,
    detail: Any,
    *,
    retry_after: float | None = None,
    request_id: str | None = None,
    attempts: int = 1,
) -> ApiError:
    """The typed exception for an error status (a pure function of the answer)."""
    text = describe(detail)
    message = f"HTTP {status}: {text}" if text else f"HTTP {status}"
    kind: type[ApiError] = ApiError
    if status in (401, 403):
        kind = ApiAuthError
    elif status == 404:
        kind = ApiNotFound
    elif status == 413:
        kind = ApiRequestTooLarge
    elif status == 422:
        kind = ApiValidationError
    elif status == 429:
        kind = ApiRateLimited
    elif status in (502, 503):
        kind = ApiUnavailable
    elif status == 504:
        kind = ApiTimeout
    return kind(
        message,
        status,
        detail=detail,
        retry_after=retry_after,
        request_id=request_id,
        attempts=attempts,
    )
