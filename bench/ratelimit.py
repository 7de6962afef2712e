"""Rate-limit store faults: API throughput while its Redis is healthy, stalled, down and back,
before and after the circuit breaker, measured in one run.

    python bench/ratelimit.py                     # before = cd3199d (no breaker), after = here
    python bench/ratelimit.py --before REF --seconds 8 --concurrency 16

What runs, for each version of the code ("before": `git archive REF`, "after": this tree):
- its own demo data and bundle (3,000 rows, built by that version's CLI);
- a throwaway redis-server on a free port (tests.services.own_redis, never the machine's);
- the API (`uvicorn api.main:app`, one worker) with REDIS_URL pointing at it, a limit far above
  the load (so the limiter is consulted on every call and refuses none), a SQLite audit log and
  its JSON request log (to a file);
- bench/api.py's load generator on GET /v1/clients/{id}/score (an audited decision) at
  concurrency 16, in four phases: Redis healthy; stalled (SIGSTOP: it accepts connections and
  never answers); down (stopped: connections refused); back (started again, same port).

For each phase: req/s, p50 and p99 latency, non-200 answers, and the lines the rate limiter
wrote to the API's log during it. Prints a table and writes bench/results/ratelimit.json and
ratelimit.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.services import RedisServer, own_redis  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BEFORE = "cd3199d"  # the last commit before the breaker (redis-py defaults, 0.5 s timeouts)
PHASES = ("healthy", "stalled", "down", "back")


def bench_api() -> ModuleType:
    """bench/api.py's load generator and server helpers (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_api"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Phase:
    version: str
    phase: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    limiter_log_lines: int
    # "back" only: seconds from Redis answering again to the limiter using it (None: no breaker)
    recovered_after_s: float | None = None


def checkout(ref: str, into: Path) -> Path:
    """The tree of `ref`, unpacked (git archive: no worktree, nothing to clean up in git)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def demo(source: Path, work: Path) -> tuple[Path, Path]:
    data, bundle = work / "data", work / "bundle"
    env = {**os.environ, "PYTHONPATH": str(source)}
    py = sys.executable
    subprocess.run(
        [py, "-m", "scoring", "demo-data", "--out", str(data), "--rows", "3000"],
        cwd=source, env=env, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [py, "-m", "scoring", "train", "--data", str(data), "--out", str(bundle), "--folds", "2",
         "--n-estimators", "60", "--no-mlflow", "--quiet"],
        cwd=source, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return bundle, data


def recovery_delay(log: Path, since: float, wait_s: float = 30.0) -> float | None:
    """Seconds from `since` to the breaker's "recovered" line, waiting for it up to `wait_s`;
    None when no line comes (the version has no breaker, or it never closed)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for line in log.read_bytes().splitlines():
            if b'"logger":"api.ratelimit"' in line and b"recovered" in line:
                return round(json.loads(line)["ts"] - since, 2)
        time.sleep(0.2)
    return None


def limiter_lines(log: Path, start: int) -> tuple[int, int]:
    """Rate-limiter lines of the API's log after byte `start`, and the new end."""
    with log.open("rb") as handle:
        handle.seek(start)
        chunk = handle.read()
    return chunk.count(b'"logger":"api.ratelimit"'), start + len(chunk)


def run_version(
    api: ModuleType, version: str, source: Path, work: Path, seconds: float, concurrency: int
) -> list[Phase]:
    import pandas as pd

    bundle, data = demo(source, work)
    ids = [
        int(i)
        for i in pd.read_parquet(data / "application_test.parquet", columns=["SK_ID_CURR"])[
            "SK_ID_CURR"
        ]
    ]
    requests = [api.http_request("GET", f"/v1/clients/{i}/score") for i in ids[:500]]
    results: list[Phase] = []
    with own_redis() as redis:
        port = api.free_port()
        env = {
            "PYTHONPATH": str(source),
            "SCORING_BUNDLE": str(bundle),
            "SCORING_CLIENTS": str(data),
            "SCORING_CACHE": str(work / "cache"),
            "API_KEYS": f"bench:{api.KEY}",
            "DATABASE_URL": f"sqlite:///{work}/audit.db",
            "REDIS_URL": redis.url,
            "API_RATE_LIMIT": "100000000",
        }
        argv = [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
                "--no-access-log", "--log-level", "warning"]  # fmt: skip
        log = work / "api.log"
        handle = log.open("wb")
        server = subprocess.Popen(
            argv, cwd=source, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT
        )
        try:
            api.wait_ready(port, "/ready", 120, want=b'"cache":"ready"')
            offset = log.stat().st_size
            faults = {
                "healthy": lambda r: None,
                "stalled": RedisServer.pause,
                "down": RedisServer.stop,  # (resumes it first)
                "back": RedisServer.start,
            }
            for phase in PHASES:
                faults[phase](redis)
                changed = time.time()
                measured = api.load(port, phase, requests, concurrency, seconds)
                lines, offset = limiter_lines(log, offset)
                result = Phase(
                    version, phase, measured.rps, measured.p50_ms, measured.p99_ms,
                    measured.requests, measured.errors, lines,
                )  # fmt: skip
                if phase == "back" and version == "after":
                    result.recovered_after_s = recovery_delay(log, changed)
                print(_line(result), flush=True)
                results.append(result)
        finally:
            api.stop(server)
            handle.close()
    return results


def _line(r: Phase) -> str:
    recovered = "" if r.recovered_after_s is None else f"  recovered after {r.recovered_after_s} s"
    return (
        f"{r.version:<7} {r.phase:<8} {r.rps:>8.1f} req/s  p50 {r.p50_ms:>8.2f} ms  "
        f"p99 {r.p99_ms:>8.2f} ms  {r.requests:>6} req  {r.errors:>4} errors  "
        f"{r.limiter_log_lines:>6} limiter log lines{recovered}"
    )


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Rate-limit store faults: throughput before and after the circuit breaker",
        "",
        f"Measured {report['measured_at']} with `{report['command']}` on {report['machine']}, "
        f"load average {report['load_average_at_start']:.2f} at the start (a shared machine: "
        "compare the versions within this run, not with other runs).",
        "",
        f"GET /v1/clients/{{id}}/score at concurrency {report['concurrency']}, "
        f"{report['seconds']} s per phase, one uvicorn worker, SQLite audit log; Redis healthy, "
        "stalled (SIGSTOP), down (stopped), back (started again). Before: "
        f"`{report['before']}` (0.5 s timeouts, redis-py's default retry policy, a warning per "
        "failed call); after: this tree (REDIS_TIMEOUT_S 0.25, no retry, breaker after 3 "
        "failures, 5 s cool-down, in-memory limits meanwhile). The phases follow each other: "
        "after, the breaker opened in the stall stays open while Redis is down (its trials fail "
        "without a line) and closes, with one line, once Redis is back.",
        "",
        "| version | phase | req/s | p50 ms | p99 ms | requests | non-200 | limiter log lines |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["phases"]:
        lines.append(
            f"| {r['version']} | {r['phase']} | {r['rps']:.1f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['requests']} | {r['errors']} | {r['limiter_log_lines']} |"
        )
    by = {(r["version"], r["phase"]): r for r in report["phases"]}
    back = by[("after", "back")]["recovered_after_s"]
    lines.append("")
    lines.append(
        "- Recovery without restart: the limiter went back to Redis "
        + (f"{back} s after it answered again" if back is not None else "NOT within 30 s")
        + " (the breaker's next trial comes at most REDIS_BREAKER_COOLDOWN_S after the last)."
    )
    for phase in ("stalled", "down"):
        before, after = by[("before", phase)], by[("after", phase)]
        healthy = by[("after", "healthy")]["rps"]
        lines.append(
            f"- Redis {phase}: {before['rps']:.1f} req/s before, {after['rps']:.1f} after "
            f"({after['rps'] / max(before['rps'], 0.1):.1f}x; after keeps "
            f"{after['rps'] / healthy:.0%} of its healthy throughput); "
            f"{before['limiter_log_lines']} limiter log lines before, "
            f"{after['limiter_log_lines']} after."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="git ref of the code without breaker")
    # longer than the breaker's 5 s cool-down, so that "back" sees the trial that closes it
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--name", default="ratelimit", help="results file name")
    args = parser.parse_args(argv)
    load_average = os.getloadavg()[0]
    api = bench_api()
    work = Path(tempfile.mkdtemp(prefix="bench-ratelimit-"))
    before = checkout(args.before, work / "before-src")
    phases = run_version(api, "before", before, work / "before", args.seconds, args.concurrency)
    phases += run_version(api, "after", ROOT, work / "after", args.seconds, args.concurrency)
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/ratelimit.py " + " ".join(argv or sys.argv[1:]),
        "load_average_at_start": load_average,
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "before": args.before,
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "phases": [asdict(p) for p in phases],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(report))
    print(f"wrote {RESULTS / args.name}.json and .md")


if __name__ == "__main__":
    main()
