"""Memory per API worker: RSS and PSS of the gunicorn master and of each worker with 1, 2 and 4
workers, on one bundle and client set, once every worker has its batch cache attached.

    python bench/memory.py --bundle var/mem/bundle --clients var/mem/data --workers 1 2 4
    python bench/memory.py ... --workers 1 4 --forget-sources  # every worker reads the clients

PSS (proportional set size) charges each shared page to the processes sharing it in equal parts:
it is what the workers really cost together. Figures are read from /proc/PID/smaps_rollup after
each worker has served explanations of many clients (so the mapped pages are touched). The batch
cache is built first, once, by a one-worker run, so every measured run maps the same files.
Each worker's start-up is read from its log line (api/services.py): seconds to load the model,
the clients (read and aggregated, or recalled from the maps an earlier worker noted), their
features, and the shared maps, and the batch cache fill. Writes bench/results/memory.json and
memory.md (or NAME.*).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-memory-key"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rollup(pid: int) -> dict[str, float]:
    """Rss, Pss, Pss_Anon and Pss_File of a process in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Private_Dirty"):
            out[name] = int(rest.split()[0]) / 1024
    return out


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-API-Key": KEY})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310 - loopback
            return response.status, response.read()
    except Exception:
        return 0, b""


def _mapped(pid: int, cache: Path) -> bool:
    try:
        return (
            f"{cache}" in Path(f"/proc/{pid}/maps").read_text()
            and "shap.npy" in Path(f"/proc/{pid}/maps").read_text()
        )
    except OSError:
        return False


_LOADED = re.compile(
    r"loaded model \S+ and \d+ clients(?P<recalled> \(tables recalled[^)]*\))? "
    r"in (?P<total>[\d.]+) s \((?P<phases>[^)]*)\)"
)
_CACHE = re.compile(r"batch cache ready in (?P<s>[\d.]+) s")


def startup_phases(log: str) -> list[dict[str, Any]]:
    """Each worker's start-up, from its log lines (api/services.py): seconds per phase (model,
    clients, features, share), whether it mapped the tables an earlier worker noted, and the
    batch cache fill."""
    workers: list[dict[str, Any]] = []
    fills: list[float] = []
    for line in log.splitlines():
        try:
            message = str(json.loads(line).get("message", ""))
        except ValueError:
            continue
        if found := _LOADED.search(message):
            phases = dict(part.rsplit(" ", 2)[:2] for part in found["phases"].split(", "))
            workers.append(
                {
                    "build_s": float(found["total"]),
                    "recalled": found["recalled"] is not None,
                    **{f"{name}_s": float(value) for name, value in phases.items()},
                }
            )
        elif found := _CACHE.search(message):
            fills.append(float(found["s"]))
    for worker, fill in zip(workers, fills, strict=False):
        worker["cache_fill_s"] = fill
    return workers


def run(bundle: Path, clients: Path, cache: Path, workers: int, ids: list[int]) -> dict[str, Any]:
    port = _port()
    env = {
        **os.environ,
        "SCORING_BUNDLE": str(bundle),
        "SCORING_CLIENTS": str(clients),
        "SCORING_CACHE": str(cache),
        "API_KEYS": f"bench:{KEY}",
        "DATABASE_URL": "sqlite:///" + str(Path(tempfile.mkdtemp()) / "audit.db"),
        "API_RATE_LIMIT": "0",
        "API_LOG_REQUESTS": "false",
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    command = [
        sys.executable, "-m", "gunicorn", "-c", "python:api.server", "-w", str(workers),
        "--bind", f"127.0.0.1:{port}", "--timeout", "600", "api.main:app",
    ]  # fmt: skip
    started = time.perf_counter()
    log = Path(tempfile.mkdtemp()) / "gunicorn.log"
    with log.open("wb") as handle:
        master = subprocess.Popen(  # nosec B603 - our own command
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=handle
        )
    try:
        deadline = time.monotonic() + 3600
        pids: list[int] = []
        while time.monotonic() < deadline:
            pids = _children(master.pid)
            if len(pids) == workers and all(_mapped(p, cache) for p in pids):
                break
            if master.poll() is not None:
                raise RuntimeError("gunicorn exited")
            time.sleep(0.5)
        ready_s = time.perf_counter() - started
        rng = random.Random(0)
        served = 0
        for client in rng.sample(ids, min(len(ids), 300 * workers)):
            status, _ = _get(f"http://127.0.0.1:{port}/v1/clients/{client}/explanation")
            served += status == 200
        time.sleep(1)
        rows = [{"process": "master", "pid": master.pid, **_rollup(master.pid)}]
        rows += [
            {"process": f"worker {n + 1}", "pid": pid, **_rollup(pid)}
            for n, pid in enumerate(_children(master.pid))
        ]
        return {
            "workers": workers,
            "ready_s": round(ready_s, 1),
            "served": served,
            "rows": rows,
            "phases": startup_phases(log.read_text(errors="replace")),
        }
    finally:
        master.terminate()
        master.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--clients", type=Path, required=True, help="clients file or folder")
    parser.add_argument("--cache", type=Path, default=None, help="batch cache folder")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--name", default="memory")
    parser.add_argument(
        "--forget-sources",
        action="store_true",
        help="drop the cache's source notes before each run: every worker reads the clients",
    )
    args = parser.parse_args()
    import pandas as pd

    from scoring.schema import ID

    test = args.clients / "application_test.parquet" if args.clients.is_dir() else args.clients
    ids = pd.read_parquet(test, columns=[ID])[ID].astype(int).tolist()
    train = args.clients / "application_train.parquet"
    n_train = len(pd.read_parquet(train, columns=[ID])) if train.exists() else None
    cache = (args.cache or Path(tempfile.mkdtemp(prefix="bench-memory-"))).resolve()
    load_before = os.getloadavg()
    results = []
    for workers in args.workers:
        if args.forget_sources:  # the ablation: start-up as before the notes (scoring/shared.py)
            for note in cache.glob("source-*.json"):
                note.unlink()
        results.append(run(args.bundle, args.clients, cache, workers, ids))
    for result in results:
        workers = result["rows"][1:]
        result["pss_total_mib"] = round(sum(r["Pss"] for r in result["rows"]), 1)
        result["pss_per_worker_mib"] = round(sum(r["Pss"] for r in workers) / len(workers), 1)
    base = results[0]
    for result in results:
        extra = result["workers"] - base["workers"]
        result["pss_per_extra_worker_mib"] = (
            round((result["pss_total_mib"] - base["pss_total_mib"]) / extra, 1) if extra else None
        )
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "bundle": str(args.bundle),
        "clients": len(ids),
        "train_rows": n_train,
        "command": "python bench/memory.py " + " ".join(sys.argv[1:]),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps({**meta, "runs": results}, indent=1))
    lines = [
        "# Memory per API worker",
        "",
        f"Measured {meta['date']} on {meta['cpus']} CPUs; {meta['clients']} clients, bundle "
        f"trained on {meta['train_rows']} rows. Command: `{meta['command']}`. Load average "
        f"{meta['load_before']} before, {meta['load_after']} after (shared machine).",
        "",
        "| workers | process | RSS MiB | PSS MiB | PSS anon | PSS file |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        for row in result["rows"]:
            lines.append(
                f"| {result['workers']} | {row['process']} | {row['Rss']:.1f} | {row['Pss']:.1f} "
                f"| {row['Pss_Anon']:.1f} | {row['Pss_File']:.1f} |"
            )
    lines += ["", "| workers | PSS total MiB | PSS per worker | PSS per extra worker | ready s |"]
    lines += ["|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['workers']} | {r['pss_total_mib']} | {r['pss_per_worker_mib']} "
            f"| {r['pss_per_extra_worker_mib']} | {r['ready_s']} |"
        )
    lines += [
        "",
        "Start-up of each worker, from its log (seconds; `recalled`: it mapped the clients' tables "
        "an earlier worker or start noted, without reading the source):",
        "",
        "| workers | worker | build | model | clients | features | share | recalled | cache fill |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for n, p in enumerate(r["phases"], start=1):
            lines.append(
                f"| {r['workers']} | {n} | {p['build_s']} | {p.get('model_s')} "
                f"| {p.get('clients_s')} | {p.get('features_s')} | {p.get('share_s')} "
                f"| {'yes' if p['recalled'] else 'no'} | {p.get('cache_fill_s')} |"
            )
    text = "\n".join(lines) + "\n"
    (out / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
