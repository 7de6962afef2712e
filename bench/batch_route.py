"""Server CPU of `POST /v1/predict/batch` (1,000 full records) and `POST /v1/explain` (on the
fly), this checkout against another one (`--against DIR`, e.g. the branch before a change),
both servers up at once and their rounds interleaved, next to the in-process floor (the served
model's own calls, one thread: `Booster.predict` of the same 1,000 rows and `pred_contrib` of
one row for a LightGBM bundle).

    python bench/batch_route.py --against /tmp/base --rounds 3 --batches 20
    python bench/batch_route.py --bundle var/bench/large-bundle --name batch-route-large

The ratios need a LightGBM bundle (the demo bundle may serve another candidate), e.g.
`python -m scoring train --data var/demo/data --out var/lgbm/bundle --folds 3 --no-mlflow
--candidates lightgbm`; the 500-tree one is built by `python bench/api.py --large-model`.

Server CPU is read from /proc (user + system of the uvicorn process, all its threads) around
each round. The goals of issue 13: the batch's rows per server CPU second >= 0.5x the model's,
and the on-the-fly explanation's (p50 - /health p50) <= 1.3x pred_contrib. Writes
bench/results/<name>.json and .md.
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
ARROW_HEADERS = {"X-API-Key": KEY, "Content-Type": "application/vnd.apache.arrow.stream"}


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

    def round(
        self,
        method: str,
        path: str,
        bodies: list[bytes],
        n: int,
        headers: dict[str, str] = HEADERS,
    ) -> dict[str, float]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        latencies: list[float] = []
        before = cpu_s(self.process.pid)
        for i in range(n):
            started = time.perf_counter()
            conn.request(method, path, bodies[i % len(bodies)] if bodies else None, headers)
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

    def takes_arrow(self, body: bytes) -> bool:
        """Whether this checkout's batch route takes an Arrow body (older ones do not)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", "/v1/predict/batch", body, ARROW_HEADERS)
        response = conn.getresponse()
        response.read()
        return response.status == 200

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def floor(bundle: Path, rows: np.ndarray, explained: int = 200) -> dict[str, Any]:
    """The served model's own calls in this process, one thread: ``predict_proba`` of the 1,000
    rows (``Booster.predict`` for a LightGBM bundle) and the exact SHAP of one row
    (``pred_contrib``), over the rows the explain round sends (their cost varies by row)."""
    from scoring.model import ScoringModel

    model = ScoringModel.load(bundle)

    def cpu_of(fn: Any, n: int) -> float:
        fn(0)
        times = []
        for i in range(n):
            started = time.process_time()
            fn(i)
            times.append(time.process_time() - started)
        return float(np.median(times))

    def wall_of(fn: Any, n: int) -> float:
        fn(0)
        times = []
        for i in range(n):
            started = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - started)
        return float(np.median(times))

    def contrib(i: int) -> None:
        j = i % explained
        model.contributions(rows[j : j + 1])

    return {
        "predict_1000_cpu_ms": cpu_of(lambda _: model.predict_proba(rows), 20) * 1e3,
        "pred_contrib_1_cpu_ms": cpu_of(contrib, 3 * explained) * 1e3,
        "pred_contrib_1_p50_ms": wall_of(contrib, 3 * explained) * 1e3,
        "model": model.model_name,
    }


def arrow_stream(rows: np.ndarray, names: list[str]) -> bytes:
    """The rows as an Arrow IPC stream, one float64 column per feature, null where NaN."""
    import pyarrow as pa
    import pyarrow.ipc

    table = pa.table({n: pa.array(rows[:, i], mask=np.isnan(rows[:, i])) for i, n in
                      enumerate(names)})  # fmt: skip
    sink = pa.BufferOutputStream()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def payloads(bundle: Path, clients: Path) -> tuple[np.ndarray, bytes, list[bytes], bytes]:
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
    return rows, batch, explain, arrow_stream(rows, names)


def run(args: argparse.Namespace) -> dict[str, Any]:
    bundle, clients = Path(args.bundle).resolve(), Path(args.clients).resolve()  # any cwd
    rows, batch, explain, arrow = payloads(bundle, clients)
    work = Path(tempfile.mkdtemp(prefix="bench-batch-route-"))
    trees = {"this checkout": ROOT}
    if args.against:
        trees = {"against": Path(args.against).resolve(), **trees}
    load_start = [round(x, 2) for x in os.getloadavg()]
    servers = {name: Server(tree, bundle, clients, work, f"s{i}") for i, (name, tree) in
               enumerate(trees.items())}  # fmt: skip
    points: dict[str, dict[str, list[dict[str, float]]]] = {n: {} for n in servers}
    try:
        arrow_too: dict[str, bool] = {}
        for name, server in servers.items():
            server.wait_ready()
            server.round("POST", "/v1/predict/batch", [batch], 3)  # warm
            server.round("POST", "/v1/explain", explain, 50)
            arrow_too[name] = server.takes_arrow(arrow)
        for round_no in range(args.rounds):
            order = list(servers.items())
            for name, server in order if round_no % 2 == 0 else order[::-1]:  # no order bias
                for route, method, path, bodies, n in (
                    ("batch", "POST", "/v1/predict/batch", [batch], args.batches),
                    ("explain", "POST", "/v1/explain", explain, args.explains),
                    ("predict", "POST", "/v1/predict", explain, args.explains),
                    ("health", "GET", "/health", [], args.explains),
                ):
                    points[name].setdefault(route, []).append(server.round(method, path, bodies, n))
                if arrow_too[name]:
                    point = server.round(
                        "POST", "/v1/predict/batch", [arrow], args.batches, ARROW_HEADERS
                    )
                    points[name].setdefault("batch-arrow", []).append(point)
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
        "floor": floor(bundle, rows, len(explain)),
        "rounds": points,
    }


def best(rounds: list[dict[str, float]], key: str) -> str:
    """The best round (the least disturbed by other jobs) and the median one."""
    values = [r[key] for r in rounds]
    low, mid = min(values), float(np.median(values))
    return f"{low:.3g} / {mid:.3g}"


def _cell(routes: dict[str, list[dict[str, float]]], route: str, key: str) -> str:
    return best(routes[route], key) if route in routes else "-"  # older reports lack it


def goals(report: dict[str, Any], routes: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """The two ratios of issue 13 for one checkout, from its median rounds."""
    fl = report["floor"]

    def median(route: str, key: str) -> float:
        return float(np.median([r[key] for r in routes[route]]))

    contrib = fl["pred_contrib_1_cpu_ms"]
    batch_cpu = median("batch", "cpu_ms_per_request")
    arrow = {"arrow_batch_rows_per_cpu_s_vs_model": fl["predict_1000_cpu_ms"] / median(
        "batch-arrow", "cpu_ms_per_request")} if "batch-arrow" in routes else {}  # fmt: skip
    return {
        **arrow,
        "batch_rows_per_cpu_s_vs_model": fl["predict_1000_cpu_ms"] / batch_cpu,
        "explain_minus_health_p50_vs_pred_contrib": (
            median("explain", "p50_ms") - median("health", "p50_ms")
        ) / fl["pred_contrib_1_p50_ms"],
        "explain_minus_health_cpu_vs_pred_contrib": (
            median("explain", "cpu_ms_per_request") - median("health", "cpu_ms_per_request")
        ) / contrib,
    }  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    fl = report["floor"]
    lines = [
        "# Batch and on-the-fly routes, server CPU",
        "",
        f"Measured {report['measured_at']} on {report['cpus']} CPUs, loopback, one uvicorn "
        f"worker per checkout, both up at once, rounds interleaved. Bundle "
        f"`{report['bundle']}` ({fl['model']}). Command: "
        f"`{report['command']}`. Load average at the start {report['load_average_at_start']}, "
        f"at the end {report['load_average_at_end']} (shared machine). Each cell: best round "
        "(the least disturbed by other jobs) / median round; the order of the checkouts "
        "alternates by round; all rounds in the JSON.",
        "",
        f"In-process floor (one thread, the served model's own call: Booster.predict for a "
        f"LightGBM bundle): predict of the 1,000 rows {fl['predict_1000_cpu_ms']:.1f} CPU ms; "
        f"pred_contrib of one row (median over the explained rows) "
        f"{fl['pred_contrib_1_cpu_ms']:.3f} CPU ms, p50 {fl['pred_contrib_1_p50_ms']:.3f} ms.",
        "",
        "| checkout | batch CPU ms / 1,000 records | batch p50 ms | rows per server CPU s / "
        "Booster.predict's | explain CPU ms | explain p50 ms | /v1/predict CPU ms | "
        "/v1/predict p50 ms | /health CPU ms | /health p50 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, routes in report["rounds"].items():
        batch_cpu = [r["cpu_ms_per_request"] for r in routes["batch"]]
        ratios = [fl["predict_1000_cpu_ms"] / x for x in (min(batch_cpu), np.median(batch_cpu))]
        lines.append(
            f"| {name} | {best(routes['batch'], 'cpu_ms_per_request')} | "
            f"{best(routes['batch'], 'p50_ms')} | {ratios[0]:.3f} / {ratios[1]:.3f} | "
            f"{best(routes['explain'], 'cpu_ms_per_request')} | "
            f"{best(routes['explain'], 'p50_ms')} | "
            f"{_cell(routes, 'predict', 'cpu_ms_per_request')} | "
            f"{_cell(routes, 'predict', 'p50_ms')} | "
            f"{best(routes['health'], 'cpu_ms_per_request')} | "
            f"{best(routes['health'], 'p50_ms')} |"
        )
    lines += [
        "",
        "Goals of issue 13 (median rounds): batch rows per server CPU second / the model's "
        "(goal >= 0.5), the same 1,000 records as JSON and as an Arrow stream (a checkout "
        "whose route does not take Arrow: -); on-the-fly explanation (explain p50 - /health "
        "p50) / pred_contrib p50 (goal <= 1.3), and the same in server CPU.",
        "",
        "| checkout | batch rows/CPU s vs model, JSON | Arrow batch CPU ms / 1,000 records | "
        "Arrow batch rows/CPU s vs model | (explain - health) p50 / pred_contrib | "
        "(explain - health) CPU / pred_contrib |",
        "|---|---|---|---|---|---|",
    ]
    for name, routes in report["rounds"].items():
        g = goals(report, routes)
        arrow = g.get("arrow_batch_rows_per_cpu_s_vs_model")
        lines.append(
            f"| {name} | {g['batch_rows_per_cpu_s_vs_model']:.3f} | "
            f"{_cell(routes, 'batch-arrow', 'cpu_ms_per_request')} | "
            f"{'-' if arrow is None else f'{arrow:.3f}'} | "
            f"{g['explain_minus_health_p50_vs_pred_contrib']:.2f} | "
            f"{g['explain_minus_health_cpu_vs_pred_contrib']:.2f} |"
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
