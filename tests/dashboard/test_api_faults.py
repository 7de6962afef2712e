"""The dashboard against a real HTTP server that fails: down (nothing listens), slow (answers
after the client's timeout), or answering 500 or 503. The real API client is used (no fake at
the client seam): each page shows the clear message of the fault and a Retry button, never a
traceback nor a hang, and shows the page once the API is back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from streamlit.testing.v1 import AppTest

from dashboard.i18n import EN
from tests.dashboard.conftest import APP
from tests.dashboard.fake_api import REFUSED_ID
from tests.delivery.support import free_port
from tests.e2e.fake_server import app as fake_app

pytestmark = pytest.mark.slow

CLIENT_TIMEOUT_S = 1.0
# A slow answer comes after this; the page must have given up long before. AppTest's own
# timeout (RUN_TIMEOUT_S) fails the test if a page waits for it: a hang fails, never blocks.
SLOW_S = 60.0
RUN_TIMEOUT_S = 30.0
START_S = 30.0


class Faulty:
    """The fake API over HTTP, with a switch: "ok", "slow", "500" or "503"."""

    def __init__(self) -> None:
        self.mode = "ok"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.mode == "ok":
            await fake_app(scope, receive, send)
            return
        if self.mode == "slow":
            waited = 0.0
            while self.mode == "slow" and waited < SLOW_S:
                await asyncio.sleep(0.1)
                waited += 0.1
            await fake_app(scope, receive, send)
            return
        status = int(self.mode)
        body = b'{"detail": "internal server error"}'
        headers = [(b"content-type", b"application/json")]
        if status == 503:
            body = b'{"detail": "decision audit log unavailable"}'
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Server:
    """uvicorn serving a Faulty app in a thread, on a port chosen before it starts."""

    def __init__(self) -> None:
        self.app = Faulty()
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="error",
            timeout_graceful_shutdown=1,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_S
        while not self._server.started:
            assert time.monotonic() < deadline, "the fake API did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.app.mode = "ok"  # lets a slow request end
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    server = Server()
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("API_KEY", "demo-key")  # the key the fake server accepts
    monkeypatch.setenv("API_TIMEOUT", str(CLIENT_TIMEOUT_S))
    try:
        yield server
    finally:
        server.stop()


FAULTS = {
    "down": "error.unavailable",
    "slow": "error.timeout",
    "500": "error.generic",
    "503": "error.unavailable",
}


def open_decision() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.query_params["client_id"] = str(REFUSED_ID)
    at.query_params["lang"] = "en"
    at.switch_page("views/decision.py")
    return at.run()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_dashboard_explains_a_failing_api_and_recovers(server: Server, fault: str) -> None:
    if fault != "down":
        server.app.mode = fault
        server.start()
    at = open_decision()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [EN[FAULTS[fault]]]
    retry = [b for b in at.button if b.label == EN["error.retry"]]
    assert retry, "a retry button"

    if fault == "down":
        server.start()  # the API comes up on the address the dashboard knows
    else:
        server.app.mode = "ok"
    retry[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == EN["page.decision"]
    assert "data-decision='refuse'" in at.get("html")[0].proto.body  # the API's decision
