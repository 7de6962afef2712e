"""End to end: the real API and the real dashboard as subprocesses, headless Chromium in front.

Opens the Decision page for a client, waits for the decision, saves a screenshot, and fails on
any Streamlit exception in the page; then visits every other page the same way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.browser import (
    CHARTS_JS,
    DECISION_JS,
    EXCEPTION_JS,
    PAGE_READY_JS,
    Browser,
    chromium,
    chromium_path,
    free_port,
    server,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    # A developer without chromium may skip the browser test; CI (CI=true) never silently does:
    # there a missing browser fails the run.
    pytest.mark.skipif(
        chromium_path() is None and not os.environ.get("CI"),
        reason="needs chromium (apt-get install chromium)",
    ),
]

API_KEY = "e2e-key"
PAGES = {
    "explanation": "Why this decision",
    "comparison": "Similar clients",
    "whatif": "What would change the decision",
    "model": "About the model",
}


@dataclass(frozen=True)
class Stack:
    api_url: str
    dashboard_url: str
    client_id: int
    decision: str


@pytest.fixture(scope="module")
def stack(
    demo_bundle: Path, demo_clients: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("e2e-logs")
    api_port, dash_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    api_env = {
        "SCORING_BUNDLE": str(demo_bundle),
        "SCORING_CLIENTS": str(demo_clients),
        "API_KEYS": f"e2e:{API_KEY}",
        "DATABASE_URL": f"sqlite:///{logs / 'audit.db'}",
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(api_port)]
    streamlit = [
        sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
        "--server.port", str(dash_port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    dash_env = {"API_URL": api_url, "API_KEY": API_KEY}
    with (
        server(uvicorn, api_env, f"{api_url}/ready", logs / "api.log"),
        server(streamlit, dash_env, f"http://127.0.0.1:{dash_port}/_stcore/health",
               logs / "dashboard.log"),
    ):  # fmt: skip
        headers = {"X-API-Key": API_KEY}
        client_id = httpx.get(f"{api_url}/v1/clients?limit=1", headers=headers).json()["items"][0]
        score = httpx.get(f"{api_url}/v1/clients/{client_id}/score", headers=headers).json()
        yield Stack(api_url, f"http://127.0.0.1:{dash_port}", client_id, score["decision"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(1440, 1000) as tab:
        yield tab


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("E2E_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_decision_page_shows_the_apis_decision(
    stack: Stack, browser: Browser, screenshots: Path
) -> None:
    browser.navigate(f"{stack.dashboard_url}/?client_id={stack.client_id}")
    browser.wait_for(DECISION_JS, timeout=60)
    browser.wait_for(f"{CHARTS_JS} >= 1", timeout=30)  # the gauge, last on the page
    shot = browser.screenshot(screenshots / f"decision-{stack.client_id}.png")
    print(f"screenshot: {shot}")
    assert browser.evaluate(EXCEPTION_JS) == 0, browser.text()
    decision = browser.evaluate(f"{DECISION_JS}.dataset.decision")
    assert decision == stack.decision
    text = browser.text()
    assert ("Credit refused" if decision == "refuse" else "Credit granted") in text
    assert "What raises the risk" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("page", list(PAGES))
def test_every_other_page_renders_against_the_real_api(
    stack: Stack, browser: Browser, screenshots: Path, page: str
) -> None:
    browser.navigate(f"{stack.dashboard_url}/{page}?client_id={stack.client_id}")
    expected = PAGES[page]
    browser.wait_for(f"({PAGE_READY_JS[page]}) || ({EXCEPTION_JS}) > 0", timeout=60)
    browser.screenshot(screenshots / f"{page}-{stack.client_id}.png")
    text = browser.text()
    assert browser.evaluate(EXCEPTION_JS) == 0, text
    assert expected in text, text[:2000]


def test_french_decision_page(stack: Stack, browser: Browser) -> None:
    browser.navigate(f"{stack.dashboard_url}/?client_id={stack.client_id}&lang=fr")
    browser.wait_for(DECISION_JS, timeout=60)
    text = browser.text()
    assert ("Crédit refusé" if stack.decision == "refuse" else "Crédit accordé") in text
    assert browser.evaluate(EXCEPTION_JS) == 0
