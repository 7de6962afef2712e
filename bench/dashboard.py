"""How fast an advisor sees a decision, and how many API calls each page view costs.

Starts the real API (on a demo bundle it builds, unless --api-url points at a running one), a
counting proxy in front of it, the real dashboard, and headless Chromium; then opens client
Decision pages and measures, in the page itself, the time from navigation start to the decision
card being in the DOM.

    .venv/bin/python bench/dashboard.py                  # builds demo data + bundle (~20 s)
    .venv/bin/python bench/dashboard.py --clients 10 --repeats 3

Writes bench/results/dashboard.json and bench/results/dashboard.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.browser import (  # noqa: E402
    EXCEPTION_JS,
    PAGE_READY_JS,
    Browser,
    chromium,
    free_port,
    server,
)

RESULTS = ROOT / "bench" / "results"
TARGET_S = 1.5
API_KEY = "bench-key"
# Installed before any page script: records when the decision card first appears.
RECORDER_JS = """
new MutationObserver((_, obs) => {
  if (document.querySelector('#decision-card')) {
    window.__decisionAt = performance.now(); obs.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""
PAGES = {
    "decision": "",
    "explanation": "explanation",
    "comparison": "comparison",
    "whatif": "whatif",
    "model": "model",
}


# --- a counting reverse proxy --------------------------------------------------------------------
class Proxy:
    """Forwards every request to the API and counts them by route template."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def reset(self) -> Counter[str]:
        with self.lock:
            seen, self.calls = self.calls, Counter()
        return seen

    @contextmanager
    def serve(self) -> Iterator[str]:
        proxy = self
        client = httpx.Client(base_url=self.upstream, timeout=30)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                reply = client.request(self.command, self.path, content=body, headers=headers)
                with proxy.lock:
                    proxy.calls[route(self.command, self.path)] += 1
                self.send_response(reply.status_code)
                for name in ("content-type", "x-request-id"):
                    if name in reply.headers:
                        self.send_header(name, reply.headers[name])
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            do_GET = do_POST = _forward  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            client.close()


def route(method: str, path: str) -> str:
    """'/v1/clients/100001/explanation?top=10' -> 'GET /v1/clients/{id}/explanation'."""
    parts = ["{id}" if p.isdigit() else p for p in path.split("?")[0].split("/")]
    return f"{method} {'/'.join(parts)}"


# --- the stack ---------------------------------------------------------------------------------
def _demo_bundle(folder: Path) -> tuple[Path, Path]:
    data, bundle = folder / "data", folder / "bundle"
    run = [sys.executable, "-m", "scoring"]
    subprocess.run(
        [*run, "demo-data", "--out", str(data), "--rows", "3000"],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    subprocess.run(
        [
            *run,
            "train",
            "--data",
            str(data),
            "--out",
            str(bundle),
            "--folds",
            "3",
            "--n-estimators",
            "60",
            "--no-mlflow",
            "--quiet",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return bundle, sorted(data.glob("application_test*"))[0]


def _start(stack: ExitStack, args: argparse.Namespace, tmp: Path) -> tuple[str, str, Proxy]:
    api_url, key = args.api_url, args.api_key
    if api_url is None:
        bundle, clients = _demo_bundle(tmp)
        port = free_port()
        api_url, key = f"http://127.0.0.1:{port}", API_KEY
        env = {
            "SCORING_BUNDLE": str(bundle),
            "SCORING_CLIENTS": str(clients),
            "API_KEYS": f"bench:{API_KEY}",
            "DATABASE_URL": f"sqlite:///{tmp / 'audit.db'}",
            "API_LOG_REQUESTS": "0",
        }
        cmd = [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port)]
        stack.enter_context(server(cmd, env, f"{api_url}/ready", tmp / "api.log"))
    proxy = Proxy(api_url)
    proxy_url = stack.enter_context(proxy.serve())
    dash_port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "dashboard/app.py",
        "--server.port",
        str(dash_port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    health = f"http://127.0.0.1:{dash_port}/_stcore/health"
    stack.enter_context(server(cmd, {"API_URL": proxy_url, "API_KEY": key}, health, tmp / "st.log"))
    return key, f"http://127.0.0.1:{dash_port}", proxy


# --- measurements ------------------------------------------------------------------------------
def view_decision(browser: Browser, url: str, proxy: Proxy) -> tuple[float, int]:
    """Seconds from navigation start to the decision card, and the API calls it cost."""
    proxy.reset()
    browser.evaluate("delete window.__decisionAt")  # the old page must not answer for the new
    browser.navigate(url)
    browser.wait_for("window.__decisionAt", timeout=60, interval=0.02)
    seconds = float(browser.evaluate("window.__decisionAt")) / 1000
    time.sleep(0.3)  # let any call still in flight land in the count
    if browser.evaluate(EXCEPTION_JS):
        raise RuntimeError(f"exception on {url}: {browser.text()[:500]}")
    return seconds, sum(proxy.reset().values())


def view_page(
    browser: Browser, base: str, page: str, client_id: int, proxy: Proxy
) -> dict[str, Any]:
    path, ready = PAGES[page], PAGE_READY_JS[page]
    proxy.reset()
    start = time.perf_counter()
    browser.navigate(f"{base}/{path}?client_id={client_id}")
    browser.wait_for(ready, timeout=60, interval=0.02)
    elapsed = time.perf_counter() - start
    time.sleep(0.3)
    calls = proxy.reset()
    return {"seconds": round(elapsed, 3), "api_calls": sum(calls.values()), "routes": dict(calls)}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(values),
        "median": round(statistics.median(values), 3),
        "p95": round(p95, 3),
        "max": round(max(values), 3),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-dash-") as tmp:
        key, base, proxy = _start(stack, args, Path(tmp))
        api = proxy.upstream
        ids = httpx.get(
            f"{api}/v1/clients", params={"limit": args.clients + 2}, headers={"X-API-Key": key}
        ).json()["items"]
        browser = stack.enter_context(chromium(1440, 1000))
        browser.send("Page.addScriptToEvaluateOnNewDocument", source=RECORDER_JS)
        first, first_calls = view_decision(browser, f"{base}/?client_id={ids[0]}", proxy)
        proxy.reset()
        cold: list[float] = []
        warm: list[float] = []
        calls_cold: list[int] = []
        calls_warm: list[int] = []
        for client_id in ids[1 : args.clients + 1]:
            seconds, calls = view_decision(browser, f"{base}/?client_id={client_id}", proxy)
            cold.append(seconds)
            calls_cold.append(calls)
            for _ in range(args.repeats):
                seconds, calls = view_decision(browser, f"{base}/?client_id={client_id}", proxy)
                warm.append(seconds)
                calls_warm.append(calls)
        pages = {page: view_page(browser, base, page, ids[-1], proxy) for page in PAGES}
    return {
        "target_s": TARGET_S,
        "first_view_after_start": {"seconds": round(first, 3), "api_calls": first_calls},
        "decision_new_client": {**summary(cold), "api_calls": max(calls_cold)},
        "decision_cached_client": {**summary(warm), "api_calls": max(calls_warm)},
        "pages_first_view": pages,
        "meets_target": statistics.median(cold) <= TARGET_S,
        "machine": {
            "python": platform.python_version(),
            "cpus": _cpus(),
            "platform": platform.platform(),
        },
        "api": "started by the bench (demo bundle, 3000 rows)"
        if args.api_url is None
        else args.api_url,
        "command": "python bench/dashboard.py " + " ".join(sys.argv[1:]),
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def report(result: dict[str, Any]) -> str:
    lines = [
        "| measure | median s | p95 s | API calls per view |",
        "|---|---|---|---|",
        f"| Decision page, first view after start | {result['first_view_after_start']['seconds']}"
        f" | - | {result['first_view_after_start']['api_calls']} |",
    ]
    for name, label in (
        ("decision_new_client", "Decision page, new client"),
        ("decision_cached_client", "Decision page, same client again"),
    ):
        row = result[name]
        lines.append(
            f"| {label} (n={row['n']}) | {row['median']} | {row['p95']} | {row['api_calls']} |"
        )
    for page, row in result["pages_first_view"].items():
        routes = ", ".join(f"{r} x{n}" for r, n in sorted(row["routes"].items())) or "-"
        lines.append(
            f"| {page} page, to its last element (menu order) | {row['seconds']} | - | "
            f"{row['api_calls']} ({routes}) |"
        )
    verdict = "meets" if result["meets_target"] else "MISSES"
    lines.append("")
    lines.append(
        f"Target: decision visible <= {result['target_s']} s (median, new client): {verdict}."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", help="use a running API instead of starting one")
    parser.add_argument("--api-key", default="demo-key", help="key for --api-url")
    parser.add_argument("--clients", type=int, default=8, help="distinct clients to open")
    parser.add_argument("--repeats", type=int, default=2, help="re-opens of each client")
    args = parser.parse_args()
    result = run(args)
    table = report(result)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "dashboard.md").write_text(
        "# Dashboard: time to decision and API calls per page view\n\n"
        f"`{result['command']}` on {result['machine']['cpus']} CPU(s), "
        f"{result['machine']['platform']}; API: {result['api']}.\n"
        "Times are measured in the page (navigation start to the decision card in the DOM),\n"
        "API calls by a counting proxy between the dashboard and the API. The five pages are\n"
        "then visited in menu order for one new client: each counts only the calls not already\n"
        "cached by the pages before it; page times run from navigation to the page's charts.\n\n"
        + table
        + "\n"
    )


if __name__ == "__main__":
    main()
