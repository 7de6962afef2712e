"""Headless Chromium driven over the DevTools protocol, plus the servers' plumbing.

Only Debian's `chromium` and the `websockets` package (already a uvicorn dependency) are needed:
no Selenium, no Playwright download. Shared by tests/e2e and bench/dashboard.py.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
# Streamlit marks a script exception in the page with this test id.
EXCEPTION_JS = "document.querySelectorAll('[data-testid=\"stException\"]').length"
DECISION_JS = "document.querySelector('#decision-card')"
CHARTS_JS = (
    "[...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
    ".filter(c => c.querySelector('.main-svg')).length"
)
_ALERTS_JS = "document.querySelectorAll('[data-testid=\"stAlert\"]').length"
# Widgets whose code is still loading show as skeletons: a page is ready when none is left.
_NO_SKELETON_JS = "!document.querySelector('[data-testid=\"stSkeleton\"]')"
# page -> JavaScript that is true once the page's last element has rendered
_LAST_ELEMENT_JS = {
    "decision": f"{DECISION_JS} && {CHARTS_JS} >= 1",
    "explanation": f"{CHARTS_JS} >= 3",
    "comparison": f"{CHARTS_JS} >= 3",
    # the counterfactual ends the page: its table, or its message beside the form's hint
    "whatif": f"{_ALERTS_JS} >= 2 || document.querySelector('[data-testid=\"stTable\"]')",
    "model": f"{CHARTS_JS} >= 1",
}
PAGE_READY_JS = {page: f"({js}) && {_NO_SKELETON_JS}" for page, js in _LAST_ELEMENT_JS.items()}


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until it answers 200, or fail with the server's exit status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def server(
    args: list[str], env: Mapping[str, str], ready_url: str, log: Path, timeout: float = 90.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until ``ready_url`` answers, stop it afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_http(ready_url, timeout, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Browser:
    """One Chromium tab; ``evaluate`` and ``wait_for`` run JavaScript in it."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=60))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.01) -> float:
        """Seconds until ``expression`` is truthy in the page (TimeoutError after ``timeout``)."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.evaluate(f"!!({expression})"):
                return time.perf_counter() - start
            time.sleep(interval)
        raise TimeoutError(f"not true after {timeout:.0f} s: {expression}")

    def screenshot(self, path: Path) -> Path:
        """The viewport as a PNG (Streamlit scrolls inside the page: open a tall window)."""
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def text(self) -> str:
        return str(self.evaluate("document.body.innerText") or "")


@contextmanager
def chromium(width: int = 1440, height: int = 1000) -> Iterator[Browser]:
    """A fresh headless Chromium (own profile directory), one tab, closed afterwards."""
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    port = free_port()
    profile = tempfile.mkdtemp(prefix="chromium-e2e-")
    proc = subprocess.Popen(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/json/version", timeout=30, proc=None)
        tabs = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
        page = next(t for t in tabs if t.get("type") == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            browser = Browser(ws)
            browser.send("Page.enable")
            # A fixed viewport: --window-size alone leaves a smaller, variable one in headless mode.
            browser.send(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            yield browser
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
