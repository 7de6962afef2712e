"""Load and isolation bench of the API under its production command (gunicorn, 2 uvicorn
workers) with the PostgreSQL audit log.

    python bench/load.py                       # builds a small demo bundle, PostgreSQL of the
    python bench/load.py --seconds 10 --rows 3000 --database postgresql+psycopg://...
    python bench/load.py --c32-seconds 60 --name load-60s   # the 60 s figure at c=32

1. `/score` at concurrency 32: req/s, errors, and audit rows == 200 answers (one row each);
2. `/score` p99 at concurrency 4 alone, then under a flood of 32 parallel `/counterfactual`
   callers, for each variant of the cap (API_COSTLY_CONCURRENCY: 64 is effectively no cap) and
   of the costly threads' priority (API_COSTLY_NICE: 0 is the worker's own), each on a fresh
   server and audit table, in one run so that they share the machine's load.

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
# (label, API_COSTLY_CONCURRENCY, API_COSTLY_NICE, API_GIL_SWITCH_MS)
VARIANTS: list[tuple[str, int, int, float]] = [
    ("no cap (64), same priority", 64, 0, 5.0),
    ("cap 2, same priority", 2, 0, 5.0),
    ("cap 1, same priority", 1, 0, 5.0),
    ("cap 1, nice 10", 1, 10, 5.0),
    ("cap 1, nice 10, GIL switch 1 ms (the defaults)", 1, 10, 1.0),
]


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n\r\n".encode()


def retry_after(head: bytes) -> float:
    for line in head.split(b"\r\n"):
        if line[:12].lower() == b"retry-after:":
            return float(line[12:])
    return 0.0


async def caller(
    port: int,
    paths: list[str],
    start: int,
    deadline: float,
    out: list[tuple[float, int]],
    polite: bool = False,
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
            status = int(head[9:12])
            out.append((time.perf_counter() - began, status))
            if polite and status in (429, 503):  # as the Python client does: wait Retry-After
                await asyncio.sleep(
                    min(retry_after(head), max(0.0, deadline - time.perf_counter()))
                )
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


Groups = dict[str, tuple[list[str], int]]


async def drive(port: int, groups: Groups, seconds: float, polite: bool = False) -> dict:
    """Each group's callers in parallel for `seconds`; `polite` callers of the expensive routes
    wait Retry-After after a 503 (the /score callers never need to)."""
    deadline = time.perf_counter() + seconds
    out: dict[str, list[tuple[float, int]]] = {name: [] for name in groups}
    await asyncio.gather(
        *(caller(port, paths, i * 7, deadline, out[name], polite and name != "score")
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
    bundle: Path,
    clients: Path,
    work: Path,
    database: str,
    table: str,
    cap: int | None = None,
    nice: int | None = None,
    switch_ms: float | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn on a free port; the settings left None keep the API's defaults."""
    port = free_port()
    env = {**os.environ, "SCORING_BUNDLE": str(bundle), "SCORING_CLIENTS": str(clients),
           "SCORING_CACHE": str(work / "cache"), "API_KEYS": f"bench:{KEY}",
           "DATABASE_URL": database, "AUDIT_TABLE": table, "API_RATE_LIMIT": "0",
           "API_LOG_REQUESTS": "0"}  # fmt: skip
    for name, value in (("API_COSTLY_CONCURRENCY", cap), ("API_COSTLY_NICE", nice),
                        ("API_GIL_SWITCH_MS", switch_ms)):  # fmt: skip
        if value is not None:
            env[name] = str(value)
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
                              "rows": args.rows, "workers": 2,
                              "c32_seconds": args.c32_seconds or args.seconds}  # fmt: skip
    table = f"bench_audit_{uuid.uuid4().hex[:8]}"
    process, port = serve(bundle, clients, work, args.database, table)  # the defaults
    try:
        seconds = args.c32_seconds or args.seconds
        result = asyncio.run(drive(port, {"score": (score, 32)}, seconds))["score"]
    finally:
        stop(process)
    result["audit_rows"] = audit_rows(args.database, table)
    result["one_row_per_decision"] = result["audit_rows"] == result["statuses"].get("200", 0)
    report["score_c32"] = result
    print("score c=32:", result, flush=True)
    report["variants"] = [label for label, *_ in VARIANTS]
    for label, cap, nice, switch_ms in VARIANTS if not args.c32_only else []:
        table = f"bench_audit_{uuid.uuid4().hex[:8]}"
        process, port = serve(bundle, clients, work, args.database, table, cap, nice, switch_ms)
        try:
            alone = asyncio.run(drive(port, {"score": (score, 4)}, args.seconds))
            both: Groups = {"score": (score, 4), "counterfactual": (flood, 32)}
            flooded = asyncio.run(drive(port, both, args.seconds))
            polite = asyncio.run(drive(port, both, args.seconds, polite=True))
        finally:
            stop(process)
        rows = audit_rows(args.database, table)
        report[label] = {"alone": alone, "flood": flooded, "polite": polite,
                         "loadavg": os.getloadavg(),
                         "audit_rows": rows, "decisions": sum(
                             group["statuses"].get("200", 0)
                             for group in (alone["score"], flooded["score"],
                                           flooded["counterfactual"], polite["score"],
                                           polite["counterfactual"]))}  # fmt: skip
        print(label, report[label], flush=True)
    report["loadavg_after"] = os.getloadavg()
    return report


def label_in(r: dict[str, Any]) -> bool:
    return all(label in r for label in r["variants"])


def markdown(r: dict[str, Any]) -> str:
    s = r["score_c32"]
    lines = [
        f"# Load bench ({r['date']}, {r['rows']} demo rows, gunicorn 2 workers, PostgreSQL audit,"
        f" {r['seconds']} s per point; load average {r['loadavg_before'][0]:.2f} before, "
        f"{r['loadavg_after'][0]:.2f} after, on a shared 2-core machine)",
        "",
        f"`/score` c=32 for {r['c32_seconds']} s: {s['rps']} req/s, p50 {s['p50_ms']} ms, "
        f"p99 {s['p99_ms']} ms, statuses "
        f"{s['statuses']}, audit rows {s['audit_rows']} (one per 200: {s['one_row_per_decision']})",
        "",
        "| costly routes | /score p99 alone (c=4) | /score p99 under 32 counterfactual callers "
        "retrying at once / waiting Retry-After | /score req/s alone / flooded / polite flood | "
        "counterfactual statuses (at once; polite) | audit rows / decisions | load average |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in r["variants"] if label_in(r) else []:
        a, f, p = r[label]["alone"]["score"], r[label]["flood"], r[label].get("polite")
        p = p or {"score": {"p99_ms": "-", "rps": "-"}, "counterfactual": {"statuses": "-"}}
        lines.append(
            f"| {label} | {a['p99_ms']} ms | {f['score']['p99_ms']} / {p['score']['p99_ms']} ms | "
            f"{a['rps']} / {f['score']['rps']} / {p['score']['rps']} | "
            f"{f['counterfactual']['statuses']}; {p['counterfactual']['statuses']} | "
            f"{r[label]['audit_rows']} / {r[label]['decisions']} | {r[label]['loadavg'][0]:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--name", default="load")
    parser.add_argument("--c32-seconds", type=float, default=0, help="default: --seconds")
    parser.add_argument("--c32-only", action="store_true", help="only the c=32 figure")
    args = parser.parse_args()
    report = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"{args.name}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
