"""Retries of the shared client: 429 and 503 (Retry-After honoured, capped), connections that
never opened, what is never sent twice, the give-up error, and timeouts. Waits go through an
injected sleep (recorded, not slept) and jitter through an injected random: fast, deterministic.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from pret_a_depenser_client import (
    ApiClient,
    ApiRateLimited,
    ApiTimeout,
    ApiUnavailable,
    RetryPolicy,
)
from pret_a_depenser_client.retry import parse_retry_after

SCORE = {
    "probability": 0.27,
    "decision": "refuse",
    "decision_reason": "at_or_above_threshold",
    "missing_key_features": [],
    "threshold": 0.24,
    "model_version": "v1",
    "client_id": 7,
}
PREDICTION = {k: v for k, v in SCORE.items() if k != "client_id"} | {"missing_features": []}
Outcome = httpx.Response | Exception


class Script:
    """A transport answering each request with the next outcome of a list."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _client(
    script: Script,
    waits: list[float],
    retry: RetryPolicy | None = None,
    random: float = 0.0,
    now: float = 0.0,
) -> ApiClient:
    return ApiClient(
        "http://api.test",
        "key",
        retry=retry,
        transport=httpx.MockTransport(script),
        sleep=waits.append,
        clock=lambda: now,
        random=lambda: random,
    )


def _refused(status: int, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, json={"detail": "busy"}, headers=headers)


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_are_retried_after_the_retry_after_the_server_asked(status: int) -> None:
    script = Script(_refused(status, "2"), _refused(status, "1"), httpx.Response(200, json=SCORE))
    waits: list[float] = []
    assert _client(script, waits).score(7)["decision"] == "refuse"
    assert len(script.requests) == 3
    assert waits == [2.0, 1.0]  # random=0: no jitter on top of what the server asked


def test_jitter_only_ever_adds_to_retry_after() -> None:
    script = Script(_refused(429, "2"), _refused(429, "2"), httpx.Response(200, json=SCORE))
    waits: list[float] = []
    _client(script, waits, random=0.999).score(7)
    # backoff ceilings 0.5 then 1.0: jitter up to half of each
    assert waits == pytest.approx([2 + 0.999 * 0.25, 2 + 0.999 * 0.5])


def test_without_retry_after_the_backoff_doubles_with_jitter() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_s=1.0, backoff_max_s=3.0)
    script = Script(*[_refused(503)] * 4, httpx.Response(200, json=SCORE))
    low: list[float] = []
    _client(script, low, retry=policy, random=0.0).score(7)
    assert low == [0.5, 1.0, 1.5, 1.5]  # half of 1, 2, then the 3 s ceiling
    script = Script(*[_refused(503)] * 4, httpx.Response(200, json=SCORE))
    high: list[float] = []
    _client(script, high, retry=policy, random=0.5).score(7)
    assert high == [0.75, 1.5, 2.25, 2.25]


def test_an_http_date_retry_after_counts_from_now() -> None:
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 12, 1, 12, 0, 4, tzinfo=UTC), usegmt=True)
    script = Script(_refused(503, later), httpx.Response(200, json=SCORE))
    waits: list[float] = []
    _client(script, waits, now=now).score(7)
    assert waits == [4.0]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        (" 7 ", 7.0),
        ("-1", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=0.0) == seconds


def test_after_max_attempts_the_last_error_is_raised_with_what_the_server_said() -> None:
    script = Script(*[_refused(429, "1")] * 3)
    waits: list[float] = []
    with pytest.raises(ApiRateLimited) as caught:
        _client(script, waits).score(7)
    error = caught.value
    assert (error.status, error.retry_after, error.attempts) == (429, 1.0, 3)
    assert len(script.requests) == 3
    assert waits == [1.0, 1.0]  # no wait after the last attempt


def test_503_after_max_attempts_is_unavailable() -> None:
    script = Script(*[_refused(503)] * 2)
    with pytest.raises(ApiUnavailable) as caught:
        _client(script, [], retry=RetryPolicy(max_attempts=2)).score(7)
    assert caught.value.status == 503
    assert caught.value.attempts == 2


def test_a_retry_after_over_the_cap_fails_at_once_saying_when_to_come_back() -> None:
    script = Script(_refused(429, "45"), httpx.Response(200, json=SCORE))
    waits: list[float] = []
    with pytest.raises(ApiRateLimited) as caught:
        _client(script, waits, retry=RetryPolicy(retry_after_max_s=30)).score(7)
    assert caught.value.retry_after == 45.0
    assert waits == []
    assert len(script.requests) == 1


def test_no_retries_when_turned_off() -> None:
    script = Script(_refused(503, "1"))
    with pytest.raises(ApiUnavailable):
        _client(script, [], retry=RetryPolicy.none()).score(7)
    assert len(script.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413, 422, 500, 502, 504])
def test_other_errors_are_not_retried(status: int) -> None:
    script = Script(_refused(status, "1"))
    waits: list[float] = []
    with pytest.raises(Exception):  # noqa: B017, PT011  (the type is test_routes.py's concern)
        _client(script, waits).score(7)
    assert len(script.requests) == 1
    assert waits == []


@pytest.mark.parametrize("status", [429, 503])
def test_a_post_is_retried_on_429_and_503_the_api_did_not_act(status: int) -> None:
    script = Script(_refused(status, "1"), httpx.Response(200, json=PREDICTION))
    waits: list[float] = []
    assert _client(script, waits).predict({"A": 0.5})["decision"] == "refuse"
    assert [r.method for r in script.requests] == ["POST", "POST"]
    assert script.requests[0].content == script.requests[1].content


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("pool")],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_connection_that_never_opened_is_retried_whatever_the_method(
    error: Exception, method: str
) -> None:
    body = SCORE if method == "GET" else PREDICTION
    script = Script(error, httpx.Response(200, json=body))
    waits: list[float] = []
    client = _client(script, waits)
    result = client.score(7) if method == "GET" else client.predict({"A": 0.5})
    assert result["decision"] == "refuse"
    assert len(script.requests) == 2
    assert waits == [0.25]  # half of the first backoff ceiling (random=0)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.WriteError("broken pipe"),
    ],
)
def test_a_get_is_retried_when_the_connection_broke_after_sending(error: Exception) -> None:
    script = Script(error, httpx.Response(200, json=SCORE))
    assert _client(script, []).score(7)["client_id"] == 7
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("slow"),
    ],
)
def test_a_post_is_not_sent_again_once_it_may_have_reached_the_api(error: Exception) -> None:
    """/v1/predict is an audited decision: the API may have made it; never make it twice."""
    script = Script(error, httpx.Response(200, json=PREDICTION))
    waits: list[float] = []
    with pytest.raises(ApiUnavailable) as caught:
        _client(script, waits, retry=RetryPolicy(max_attempts=5)).predict({"A": 0.5})
    assert caught.value.attempts == 1
    assert len(script.requests) == 1
    assert waits == []


def test_a_read_timeout_is_a_timeout_and_not_retried_by_default() -> None:
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(200, json=SCORE))
    with pytest.raises(ApiTimeout, match="did not answer in time"):
        _client(script, []).score(7)
    assert len(script.requests) == 1


def test_a_read_timeout_of_a_get_is_retried_when_asked() -> None:
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(200, json=SCORE))
    assert _client(script, [], retry=RetryPolicy(retry_timeouts=True)).score(7)["client_id"] == 7
    assert len(script.requests) == 2


def test_an_unreachable_api_after_every_attempt_is_unavailable() -> None:
    script = Script(*[httpx.ConnectError("refused")] * 3)
    waits: list[float] = []
    with pytest.raises(ApiUnavailable, match="after 3 attempts") as caught:
        _client(script, waits).model()
    assert not isinstance(caught.value, ApiTimeout)
    assert caught.value.attempts == 3
    assert waits == [0.25, 0.5]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"backoff_s": -1.0}, {"retry_after_max_s": float("nan")}],
)
def test_a_policy_that_makes_no_sense_is_refused_naming_the_field(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# --- timeouts against a real, slow local server ------------------------------------------------
class _Slow(http.server.BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:
        self.release.wait(5)  # longer than the client's timeout; released at teardown
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    _Slow.release.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Slow.release.set()
    server.shutdown()
    server.server_close()


def test_the_default_timeout_bounds_a_real_slow_server(slow_server: str) -> None:
    with ApiClient(slow_server, "key", timeout=0.2) as client, pytest.raises(ApiTimeout):
        client.model()


def test_a_per_call_timeout_overrides_the_default(slow_server: str) -> None:
    with ApiClient(slow_server, "key", timeout=60) as client:
        with pytest.raises(ApiTimeout):
            client.with_options(timeout=0.2).model()
        assert client.timeout.read == 60  # the view changed nothing of the client


def test_with_options_shares_the_connections_and_changes_only_what_it_names() -> None:
    script = Script(_refused(503), httpx.Response(200, json=SCORE))
    waits: list[float] = []
    client = _client(script, waits)
    strict = client.with_options(retry=RetryPolicy.none())
    with pytest.raises(ApiUnavailable):
        strict.score(7)
    assert client.score(7)["client_id"] == 7  # the same transport, the default policy
    assert strict.timeout == client.timeout
    assert client.retry == RetryPolicy()


def _never(seconds: float) -> None:
    raise AssertionError(f"waited {seconds} s")


def test_a_timeout_that_is_not_a_number_of_seconds_is_refused() -> None:
    sleep: Callable[[float], None] = _never
    with pytest.raises(ValueError, match="timeout"):
        ApiClient("http://api.test", "key", timeout=0, sleep=sleep)
