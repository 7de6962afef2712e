"""When a failed call is tried again, and after how long: pure functions of the failure.

What is retried, and why it is safe (the API's decision routes write one audit row per decision
they serve, so a retry must never make the API decide twice what the caller asked once):

- **429 and 503, any method.** The API refused before it acted: the rate limiter answers 429
  before the route runs; 503 comes from a route that could not serve a decision (the audit log
  did not record it, so no decision left the API), a full concurrency cap, or an API not ready.
  The wait is the answer's ``Retry-After`` when it gives one, else the backoff.
- **A connection that never opened, any method** (``ConnectError``, ``ConnectTimeout``, no free
  connection in the pool): the request never left the client.
- **A connection lost after the request was sent, GET only** (``ReadError``, ``WriteError``,
  ``RemoteProtocolError``): the API may have acted. A GET gives the same answer again (a GET
  that scores a stored client may then leave one audit row per attempt that reached the API);
  a POST (``/v1/predict``, ``/v1/predict/batch``, ``/v1/explain``) is an audited decision on
  data only the caller has, so it is not repeated: the caller gets ``ApiUnavailable`` and
  decides.
- **Never**: 4xx other than 429 (the request itself is wrong), 500 (a bug does not heal), 502
  and 504 from a proxy (the API may have acted), and read timeouts unless ``retry_timeouts``
  (GET only): the timeout is the longest the caller said it would wait for an answer, and a
  slow API only gets slower when its callers ask twice.

The backoff is exponential with jitter: attempt n (1 = the first retry) waits a random time in
``[b/2, b]`` with ``b = min(backoff_max_s, backoff_s * 2**(n-1))``, so that clients refused
together do not come back together. A ``Retry-After`` is honoured, never shortened: the wait
is ``Retry-After + jitter`` where ``jitter`` is in ``[0, b/2]``. A ``Retry-After`` longer than
``retry_after_max_s`` is not waited for at all: the call fails at once with the error, whose
``retry_after`` tells the caller when to come back (a person waiting on a page, or a batch job
that would rather reschedule, should not block for minutes).

One caveat on 503 from an audited route: when the audit database commits a row just after the
API gave up waiting for it, the API answers 503 and the row stays; the retried call then adds a
second row for the same input (same ``input_hash``), never a second, different decision.
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass, field

import httpx

RETRY_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The request never reached the API: safe to send again whatever it was.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how patiently, the client asks again. ``RetryPolicy(max_attempts=1)``
    (or ``RetryPolicy.none()``) turns retries off."""

    max_attempts: int = 3  # requests in all for one call, the first included
    backoff_s: float = 0.5  # the first retry's backoff ceiling, doubled at each retry
    backoff_max_s: float = 8.0
    retry_after_max_s: float = 30.0  # a longer Retry-After fails at once (see the module doc)
    statuses: frozenset[int] = field(default=RETRY_STATUSES)
    retry_timeouts: bool = False  # also retry read timeouts of GETs

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: {self.max_attempts} is below 1")
        for name in ("backoff_s", "backoff_max_s", "retry_after_max_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: {value} is not a finite number >= 0")

    @classmethod
    def none(cls) -> RetryPolicy:
        return cls(max_attempts=1)

    def backoff(self, retry: int, random: float) -> float:
        """The wait before retry number ``retry`` (1-based); ``random`` is uniform in [0, 1)."""
        ceiling = min(self.backoff_max_s, self.backoff_s * 2 ** (retry - 1))
        return ceiling / 2 + random * ceiling / 2

    def delay(self, retry: int, random: float, retry_after: float | None) -> float | None:
        """Seconds to wait before retry ``retry``, or None when the server asked for longer
        than ``retry_after_max_s`` (give up now)."""
        if retry_after is None:
            return self.backoff(retry, random)
        if retry_after > self.retry_after_max_s:
            return None
        ceiling = min(self.backoff_max_s, self.backoff_s * 2 ** (retry - 1))
        return retry_after + random * ceiling / 2

    def retries_status(self, status: int) -> bool:
        return status in self.statuses

    def retries_error(self, method: str, error: httpx.TransportError) -> bool:
        """Whether a call that failed with ``error`` (no answer) may be sent again."""
        if isinstance(error, NOT_SENT):
            return True
        if method.upper() not in IDEMPOTENT_METHODS:
            return False
        if isinstance(error, httpx.TimeoutException):
            return self.retry_timeouts
        return isinstance(error, httpx.NetworkError | httpx.RemoteProtocolError)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds from now: delay-seconds or an HTTP date (RFC 9110 10.2.3);
    None when absent or unreadable. ``now`` is the current POSIX time (for the date form)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
