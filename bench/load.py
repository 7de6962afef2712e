"""Load and isolation bench of the API under its production command (gunicorn, 2 uvicorn
workers) with the PostgreSQL audit log.

    python bench/load.py                       # builds a small demo bundle, PostgreSQL of the
    python bench/load.py --seconds 10 --rows 3000 --database postgresql+psycopg://...

1. `/score` at concurrency 32: req/s, errors, and audit rows == 200 answers (one row each);
2. `/score` p99 at concurrency 4 alone, then under a flood of 32 parallel `/counterfactual`
   callers, with API_COSTLY_CONCURRENCY=64 (effectively no cap: before) and the default 2
   (after), each on a fresh server and audit table.

A small asyncio HTTP/1.1 keep-alive generator (locust is not in the lock). Prints a table and
writes bench/results/load.json and load.md, with the load average of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
KEY = "bench-load-key"
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n\r\n".encode()


async def caller(
    port: int, paths: list[str], start: int, deadline: float, out: list[tuple[float, int]]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = start
    try:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            writer.write(request(paths[i % len(paths)]))
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (int(line[15:]) for line in head.split(b"\r\n")
                 if line[:15].lower() == b"content-length:"), 0,
            )  # fmt: skip
            await reader.readexactly(length)
            out.append((time.perf_counter() - began, int(head[9:12])))
    except (ConnectionError, asyncio.IncompleteReadError):
        out.append((time.perf_counter() - began, 0))
    finally:
        writer.close()


def summary(samples: list[tuple[float, int]], seconds: float) -> dict[str, Any]:
    ms = np.array([s for s, _ in samples]) * 1000 if samples else np.array([0.0])
    statuses: dict[str, int] = {}
    for _, status in samples:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "requests": len(samples),
        "rps": round(len(samples) / seconds, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "statuses": statuses,
    }


async def drive(port: int, groups: dict[str, tuple[list[str], int]], seconds: float) -> dict:
    deadline = time.perf_counter() + seconds
    out: dict[str, list[tuple[float, int]]] = {name: [] for name in groups}
    await asyncio.gather(
        *(caller(port, paths, i * 7, deadline, out[name])
          for name, (paths, n) in groups.items() for i in range(n))
    )  # fmt: skip
    return {name: summary(samples, seconds) for name, samples in out.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if b'"cache":"ready"' in httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).content:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"API on port {port} not ready after {timeout} s")


def serve(
    bundle: Path, clients: Path, work: Path, database: str, table: str, cap: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "SCORING_BUNDLE": str(bundle), "SCORING_CLIENTS": str(clients),
           "SCORING_CACHE": str(work / "cache"), "API_KEYS": f"bench:{KEY}",
           "DATABASE_URL": database, "AUDIT_TABLE": table, "API_RATE_LIMIT": "0",
           "API_LOG_REQUESTS": "0", "API_COSTLY_CONCURRENCY": str(cap)}  # fmt: skip
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:api.server", "-w", "2",
            "--bind", f"127.0.0.1:{port}", "api.main:app"]  # fmt: skip
    log = (work / f"gunicorn-{table}.log").open("wb")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_ready(port, 300)
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def audit_rows(database: str, table: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    with engine.begin() as conn:
        count = int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())
        conn.execute(text(f'DROP TABLE IF EXISTS "{table}", "{table}_version"'))
    engine.dispose()
    return count


def demo(rows: int, work: Path) -> tuple[Path, Path]:
    data, bundle = work / "data", work / "bundle"
    py = [sys.executable, "-m", "scoring"]
    subprocess.run([*py, "demo-data", "--out", str(data), "--rows", str(rows)], cwd=ROOT,
                   check=True)  # fmt: skip
    train = ["train", "--data", str(data), "--out", str(bundle), "--folds", "3",
             "--n-estimators", "60", "--no-mlflow", "--quiet"]  # fmt: skip
    subprocess.run([*py, *train], cwd=ROOT, check=True)
    clients = work / "clients"
    clients.mkdir()
    for path in data.iterdir():
        if path.is_file() and not path.name.startswith("application_train"):
            (clients / path.name).symlink_to(path)
    return bundle, clients


def run(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    bundle, clients = demo(args.rows, work)
    ids = [int(i) for i in pd.read_parquet(clients / "application_test.parquet",
                                           columns=["SK_ID_CURR"])["SK_ID_CURR"]]  # fmt: skip
    score = [f"/v1/clients/{i}/score" for i in ids]
    flood = [f"/v1/clients/{i}/counterfactual" for i in ids]
    report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "loadavg_before": os.getloadavg(), "seconds": args.seconds,
                              "rows": args.rows, "workers": 2}  # fmt: skip
    table = f"bench_audit_{uuid.uuid4().hex[:8]}"
    process, port = serve(bundle, clients, work, args.database, table, 2)
    try:
        result = asyncio.run(drive(port, {"score": (score, 32)}, args.seconds))["score"]
    finally:
        stop(process)
    result["audit_rows"] = audit_rows(args.database, table)
    result["one_row_per_decision"] = result["audit_rows"] == result["statuses"].get("200", 0)
    report["score_c32"] = result
    print("score c=32:", result, flush=True)
    for label, cap in (("before (cap 64)", 64), ("after (cap 2)", 2)):
        table = f"bench_audit_{uuid.uuid4().hex[:8]}"
        process, port = serve(bundle, clients, work, args.database, table, cap)
        try:
            alone = asyncio.run(drive(port, {"score": (score, 4)}, args.seconds))
            flooded = asyncio.run(
                drive(port, {"score": (score, 4), "counterfactual": (flood, 32)}, args.seconds)
            )
        finally:
            stop(process)
        audit_rows(args.database, table)
        report[label] = {"alone": alone, "flood": flooded, "loadavg": os.getloadavg()}
        print(label, report[label], flush=True)
    report["loadavg_after"] = os.getloadavg()
    return report


def markdown(r: dict[str, Any]) -> str:
    s = r["score_c32"]
    lines = [
        f"# Load bench ({r['date']}, {r['rows']} demo rows, gunicorn 2 workers, PostgreSQL audit,"
        f" {r['seconds']} s per point; load average {r['loadavg_before'][0]:.2f} before, "
        f"{r['loadavg_after'][0]:.2f} after, on a shared 2-core machine)",
        "",
        f"`/score` c=32: {s['rps']} req/s, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, statuses "
        f"{s['statuses']}, audit rows {s['audit_rows']} (one per 200: {s['one_row_per_decision']})",
        "",
        "| cap | /score p99 alone (c=4) | /score p99 under 32 counterfactual callers | "
        "/score req/s alone / flooded | counterfactual statuses |",
        "|---|---|---|---|---|",
    ]
    for label in ("before (cap 64)", "after (cap 2)"):
        a, f = r[label]["alone"]["score"], r[label]["flood"]
        lines.append(
            f"| {label} | {a['p99_ms']} ms | {f['score']['p99_ms']} ms | {a['rps']} / "
            f"{f['score']['rps']} | {f['counterfactual']['statuses']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--name", default="load")
    args = parser.parse_args()
    report = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"{args.name}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
