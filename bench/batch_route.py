"""Server CPU of `POST /v1/predict/batch` (1,000 full records) and `POST /v1/explain` (on the
fly), this checkout against another one (`--against DIR`, e.g. the branch before a change),
both servers up at once and their rounds interleaved, next to the in-process floor
(`Booster.predict` of the same 1,000 rows, `pred_contrib` of one row, one thread).

    python bench/batch_route.py --against /tmp/base --rounds 3 --batches 20

Server CPU is read from /proc (user + system of the uvicorn process, all its threads) around
each round; the goal of issue 13 is the batch's rows per server CPU second >= 0.5x
`Booster.predict`'s. Writes bench/results/batch-route.json and .md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
KEY = "bench-key"
HEADERS = {"X-API-Key": KEY, "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, tree: Path, bundle: Path, clients: Path, work: Path, name: str) -> None:
        self.name, self.port = name, free_port()
        env = {
            **os.environ,
            "SCORING_BUNDLE": str(bundle),
            "SCORING_CLIENTS": str(clients),
            "SCORING_CACHE": str(work / f"cache-{name}"),
            "API_KEYS": f"bench:{KEY}",
            "DATABASE_URL": f"sqlite:///{work}/audit-{name}.db",
            "API_RATE_LIMIT": "0",
            "API_BATCH_MAX": "1000",
        }
        argv = [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(self.port),
                "--workers", "1", "--no-access-log", "--log-level", "warning"]  # fmt: skip
        log = (work / f"{name}.log").open("wb")
        self.process = subprocess.Popen(argv, cwd=tree, env=env, stdout=log, stderr=log)

    def wait_ready(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/ready")
                if b'"cache":"ready"' in conn.getresponse().read():
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready")

    def round(self, method: str, path: str, bodies: list[bytes], n: int) -> dict[str, float]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        latencies: list[float] = []
        before = cpu_s(self.process.pid)
        for i in range(n):
            started = time.perf_counter()
            conn.request(method, path, bodies[i % len(bodies)] if bodies else None, HEADERS)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{self.name} {path}: {response.status} {body[:200]!r}")
            latencies.append(time.perf_counter() - started)
        used = cpu_s(self.process.pid) - before
        return {
            "cpu_ms_per_request": used / n * 1e3,
            "p50_ms": float(np.median(latencies)) * 1e3,
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def floor(bundle: Path, rows: np.ndarray, repeat: int = 20) -> dict[str, float]:
    from scoring.model import ScoringModel

    booster = ScoringModel.load(bundle).booster

    def cpu_of(fn: Any, n: int) -> float:
        fn()
        times = []
        for _ in range(n):
            started = time.process_time()
            fn()
            times.append(time.process_time() - started)
        return float(np.median(times))

    predict = cpu_of(lambda: booster.predict(rows, num_threads=1), repeat)
    contrib = cpu_of(lambda: booster.predict(rows[:1], pred_contrib=True, num_threads=1), 200)
    return {"predict_1000_cpu_ms": predict * 1e3, "pred_contrib_1_cpu_ms": contrib * 1e3}


def payloads(bundle: Path, clients: Path) -> tuple[np.ndarray, bytes, list[bytes]]:
    from scoring.clients import ClientBase
    from scoring.model import ScoringModel

    model = ScoringModel.load(bundle)
    base = ClientBase.load(clients, model.builder)
    names = model.feature_names
    rows = base.features()[names].to_numpy(dtype="float64")[:1000]
    records = [
        {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, row, strict=True)}
        for row in rows
    ]
    batch = json.dumps({"records": [{"features": r} for r in records]}).encode()
    explain = [json.dumps({"features": r}).encode() for r in records[:200]]
    return rows, batch, explain


def run(args: argparse.Namespace) -> dict[str, Any]:
    bundle, clients = Path(args.bundle), Path(args.clients)
    rows, batch, explain = payloads(bundle, clients)
    work = Path(tempfile.mkdtemp(prefix="bench-batch-route-"))
    trees = {"this checkout": ROOT}
    if args.against:
        trees = {"against": Path(args.against).resolve(), **trees}
    load_start = [round(x, 2) for x in os.getloadavg()]
    servers = {name: Server(tree, bundle, clients, work, f"s{i}") for i, (name, tree) in
               enumerate(trees.items())}  # fmt: skip
    points: dict[str, dict[str, list[dict[str, float]]]] = {n: {} for n in servers}
    try:
        for server in servers.values():
            server.wait_ready()
            server.round("POST", "/v1/predict/batch", [batch], 3)  # warm
            server.round("POST", "/v1/explain", explain, 50)
        for round_no in range(args.rounds):
            order = list(servers.items())
            for name, server in order if round_no % 2 == 0 else order[::-1]:  # no order bias
                for route, method, path, bodies, n in (
                    ("batch", "POST", "/v1/predict/batch", [batch], args.batches),
                    ("explain", "POST", "/v1/explain", explain, args.explains),
                    ("health", "GET", "/health", [], args.explains),
                ):
                    points[name].setdefault(route, []).append(server.round(method, path, bodies, n))
    finally:
        for server in servers.values():
            server.stop()
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/batch_route.py " + " ".join(sys.argv[1:]),
        "load_average_at_start": load_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "bundle": str(bundle),
        "trees": {name: str(tree) for name, tree in trees.items()},
        "floor": floor(bundle, rows),
        "rounds": points,
    }


def best(rounds: list[dict[str, float]], key: str) -> str:
    """The best round (the least disturbed by other jobs) and the median one."""
    values = [r[key] for r in rounds]
    low, mid = min(values), float(np.median(values))
    return f"{low:.3g} / {mid:.3g}"


def markdown(report: dict[str, Any]) -> str:
    fl = report["floor"]
    lines = [
        "# Batch and on-the-fly routes, server CPU",
        "",
        f"Measured {report['measured_at']} on {report['cpus']} CPUs, loopback, one uvicorn "
        f"worker per checkout, both up at once, rounds interleaved. Command: "
        f"`{report['command']}`. Load average at the start {report['load_average_at_start']}, "
        f"at the end {report['load_average_at_end']} (shared machine). Each cell: best round "
        "(the least disturbed by other jobs) / median round; the order of the checkouts "
        "alternates by round; all rounds in the JSON.",
        "",
        f"In-process floor (one thread): Booster.predict of the 1,000 rows "
        f"{fl['predict_1000_cpu_ms']:.1f} CPU ms; pred_contrib of one row "
        f"{fl['pred_contrib_1_cpu_ms']:.3f} CPU ms.",
        "",
        "| checkout | batch CPU ms / 1,000 records | batch p50 ms | rows per server CPU s / "
        "Booster.predict's | explain CPU ms | explain p50 ms | /health CPU ms | /health p50 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, routes in report["rounds"].items():
        batch_cpu = [r["cpu_ms_per_request"] for r in routes["batch"]]
        ratios = [fl["predict_1000_cpu_ms"] / x for x in (min(batch_cpu), np.median(batch_cpu))]
        lines.append(
            f"| {name} | {best(routes['batch'], 'cpu_ms_per_request')} | "
            f"{best(routes['batch'], 'p50_ms')} | {ratios[0]:.3f} / {ratios[1]:.3f} | "
            f"{best(routes['explain'], 'cpu_ms_per_request')} | "
            f"{best(routes['explain'], 'p50_ms')} | "
            f"{best(routes['health'], 'cpu_ms_per_request')} | "
            f"{best(routes['health'], 'p50_ms')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bundle", default=str(ROOT / "var/demo/bundle"))
    parser.add_argument("--clients", default=str(ROOT / "var/demo/data"))
    parser.add_argument("--against", help="another checkout (its api/ is served the same way)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=20, help="batches per round")
    parser.add_argument("--explains", type=int, default=300, help="explanations per round")
    parser.add_argument("--name", default="batch-route")
    args = parser.parse_args(argv)
    report = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
