"""Where the fixed cost of an audited POST goes: server CPU per request of `POST /v1/predict` and
`POST /v1/explain` (on the fly), the app called in-process through raw ASGI messages (no HTTP
client, no sockets), with one piece at a time replaced, the variants interleaved by round:

- predict: the real audit round trip (the writer thread commits the row), a stand-in thread that
  settles the wait at once (the hop to a thread and back, no database), a stand-in that only
  costs one event-loop cycle (no thread), and no wait at all;
- explain: the model call in the costly thread (as served) or inline on the event loop.

Each cell is CPU ms per request of the whole process and of the event loop's thread alone (best
round / median round), next to GET /health. A stand-in is for measuring only: the routes always
audit before answering and explain off the loop.

    python bench/post_overhead.py --bundle var/bench/lgbm-bundle
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def scope(method: str, path: str, size: int) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"x-api-key", b"bench-key"),
               (b"content-type", b"application/json"),
               (b"content-length", str(size).encode())]  # fmt: skip
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
            "server": ("bench", 80)}  # fmt: skip


async def call(app: Any, method: str, path: str, body: bytes = b"") -> int:
    sent, status = False, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # never: the app reads one message
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope(method, path, len(body)), receive, send)
    return status[0]


class _Settled:
    """A commit that is already done (no wait at all)."""

    def __await__(self) -> Any:
        return iter(())

    def close(self) -> None:
        pass


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from api.app import create_app
    from api.audit import Commit
    from api.settings import Settings
    from bench.batch_route import payloads

    bundle, clients = Path(args.bundle).resolve(), Path(args.clients).resolve()
    _, _, bodies, _ = payloads(bundle, clients)
    work = Path(tempfile.mkdtemp(prefix="bench-post-overhead-"))
    settings = Settings(
        scoring_bundle=bundle, scoring_clients=clients, scoring_cache=work / "cache",
        api_keys="bench:bench-key", database_url=f"sqlite:///{work}/audit.db",
        api_rate_limit=0, api_log_requests=False, api_warm_cache=False,
    )  # fmt: skip
    app = create_app(settings)
    rounds: dict[str, list[dict[str, float]]] = {}
    async with app.router.lifespan_context(app):
        services = app.state.services
        audit, costly = services.audit, services.costly
        real_begin, real_run = audit.begin, costly.run
        loop = asyncio.get_running_loop()

        def one_cycle(*_: object) -> Commit:
            future = loop.create_future()
            loop.call_soon(future.set_result, None)
            return Commit(future)

        hops: queue.SimpleQueue[asyncio.Future[None] | None] = queue.SimpleQueue()

        def hopper() -> None:  # the writer's hop without its work: settle each wait at once
            while (future := hops.get()) is not None:
                loop.call_soon_threadsafe(future.set_result, None)

        hop_thread = threading.Thread(target=hopper, daemon=True)
        hop_thread.start()

        def thread_hop(*_: object) -> Commit:
            future = loop.create_future()
            hops.put(future)
            return Commit(future)

        async def inline(fn: Callable[..., Any], *a: object) -> Any:
            return fn(*a)

        variants: list[tuple[str, str, str, Callable[..., Any], Callable[..., Any]]] = [
            ("health", "GET", "/health", real_begin, real_run),
            ("predict, audited", "POST", "/v1/predict", real_begin, real_run),
            ("predict, a thread hop for the audit", "POST", "/v1/predict", thread_hop, real_run),
            ("predict, one loop cycle for the audit", "POST", "/v1/predict", one_cycle, real_run),
            ("predict, no audit wait", "POST", "/v1/predict", lambda *_: _Settled(), real_run),
            ("explain, costly thread", "POST", "/v1/explain", real_begin, real_run),
            ("explain, inline on the loop", "POST", "/v1/explain", real_begin, inline),
        ]

        async def one_round(name: str, method: str, path: str, n: int) -> None:
            def request(i: int) -> Awaitable[int]:
                return call(app, method, path, bodies[i % len(bodies)] if method == "POST" else b"")

            for i in range(30):
                if (status := await request(i)) != 200:
                    raise RuntimeError(f"{name}: {status}")
            process, thread = time.process_time(), time.thread_time()
            for i in range(n):
                await request(i)
            await asyncio.sleep(0.02)  # the writer's tail of the last request, in this round
            rounds.setdefault(name, []).append({
                "cpu_ms": (time.process_time() - process) / n * 1e3,
                "loop_thread_cpu_ms": (time.thread_time() - thread) / n * 1e3,
            })  # fmt: skip

        for round_no in range(args.rounds):
            order = variants if round_no % 2 == 0 else variants[::-1]
            for name, method, path, begin, run in order:
                audit.begin, costly.run = begin, run
                try:
                    await one_round(name, method, path, args.requests)
                finally:
                    audit.begin, costly.run = real_begin, real_run
        hops.put(None)
        hop_thread.join()
    return {"bundle": str(bundle), "rounds": rounds}


def cell(values: list[float]) -> str:
    return f"{min(values):.3f} / {float(np.median(values)):.3f}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Fixed cost of the audited POST routes, by piece",
        "",
        f"Measured {report['measured_at']} on {report['cpus']} CPUs, the app in-process (raw "
        f"ASGI calls, no client or sockets), bundle `{report['bundle']}`. Command: "
        f"`{report['command']}`. Load average at the start {report['load_average_at_start']}, "
        f"at the end {report['load_average_at_end']} (shared machine). Each cell: CPU ms per "
        "request, best round / median round; variants interleaved, order reversed every round.",
        "",
        "| variant | process CPU ms | event-loop thread CPU ms |",
        "|---|---|---|",
    ]
    for name, points in report["rounds"].items():
        lines.append(
            f"| {name} | {cell([p['cpu_ms'] for p in points])} | "
            f"{cell([p['loop_thread_cpu_ms'] for p in points])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bundle", default=str(ROOT / "var/demo/bundle"))
    parser.add_argument("--clients", default=str(ROOT / "var/demo/data"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500, help="requests per round")
    parser.add_argument("--name", default="post-overhead")
    args = parser.parse_args(argv)
    load_start = [round(x, 2) for x in os.getloadavg()]
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/post_overhead.py " + " ".join(sys.argv[1:]),
        "load_average_at_start": load_start,
        "cpus": os.cpu_count(),
        **asyncio.run(measure(args)),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
