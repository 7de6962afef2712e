"""Two checkouts of the API side by side: server CPU per request of /health and of the cached
explanation, both servers up, short rounds interleaved, medians kept (a shared machine's other
jobs then weigh on both alike).

    python bench/api_ab.py --before /tmp/main-copy --rounds 8 --name api-hot-ab

``--before`` is a checkout of the code to compare with (e.g. ``git archive main``), with the
same .venv and var/demo; this checkout is "after". Writes bench/results/NAME.json and NAME.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import (  # noqa: E402
    KEY,
    api_env,
    free_port,
    http_request,
    load,
    stop,
    uptime_load,
    wait_ready,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--name", default="api-ab")
    args = parser.parse_args()
    import httpx

    work = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    bundle, clients = ROOT / "var/demo/bundle", ROOT / "var/demo/data"
    servers = {}
    load_start = uptime_load()
    try:
        for label, root in (("before", args.before.resolve()), ("after", ROOT)):
            port = free_port()
            argv = [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
                    "--no-access-log", "--log-level", "warning"]  # fmt: skip
            env = api_env(bundle, clients, work, label)
            env["SCORING_CACHE"] = str(work / f"cache-{label}")
            log = work / f"{label}.log"
            servers[label] = (port, start_server_in(root, argv, env, log))
        for port, _ in servers.values():
            wait_ready(port, "/ready", 300, want=b'"cache":"ready"')
        port = next(iter(servers.values()))[0]
        listed = httpx.get(
            f"http://127.0.0.1:{port}/v1/clients?limit=200", headers={"X-API-Key": KEY}
        ).json()["items"]
        plans = {
            "GET /health": [b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
            "GET /v1/clients/{id}/explanation (cached)": [
                http_request("GET", f"/v1/clients/{i}/explanation") for i in listed
            ],
        }
        samples: dict[tuple[str, str], list[float]] = {}
        for port, process in servers.values():  # warm-up: the body cache fills
            for route, requests in plans.items():
                load(port, route, requests, 16, 1.0, [process.pid])
        for _ in range(args.rounds):
            for route, requests in plans.items():
                for label, (port, process) in servers.items():
                    r = load(port, route, requests, 16, args.seconds, [process.pid])
                    us = r.server_cpu_s / max(r.requests, 1) * 1e6
                    samples.setdefault((label, route), []).append(round(us, 1))
    finally:
        for _, process in servers.values():
            stop(process)
    rows = []
    for (label, route), values in samples.items():
        rows.append(
            {
                "code": label,
                "route": route,
                "median_us": round(statistics.median(values), 1),
                "us": values,
            }
        )
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/api_ab.py " + " ".join(sys.argv[1:]),
        "load_average_at_start": load_start,
        "load_average_at_end": uptime_load(),
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    median = {(r["code"], r["route"]): r["median_us"] for r in rows}
    lines = [
        "# API: server CPU per request, two checkouts side by side",
        "",
        f"Measured {report['measured_at']} on {report['cpus']} CPUs; command "
        f"`{report['command']}`; load average {load_start} at the start, "
        f"{report['load_average_at_end']} at the end (shared machine). One uvicorn worker each, "
        f"c=16, {args.rounds} interleaved rounds of {args.seconds} s per point; medians.",
        "",
        "| code | route | median server CPU us/req | rounds |",
        "|---|---|---|---|",
        *[
            f"| {r['code']} | {r['route']} | {r['median_us']} | {', '.join(map(str, r['us']))} |"
            for r in rows
        ],
        "",
    ]
    for label in servers:
        health = median[(label, "GET /health")]
        cached = median[(label, "GET /v1/clients/{id}/explanation (cached)")]
        lines.append(f"- {label}: /health / cached = {health / cached:.3f} (goal >= 0.5)")
    lines.append("")
    out = ROOT / "bench" / "results"
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / f"{args.name}.md").write_text("\n".join(lines))
    print("\n".join(lines))


def start_server_in(root: Path, argv: list[str], env: dict[str, str], log: Path) -> Any:
    import subprocess

    handle = log.open("wb")
    return subprocess.Popen(
        argv, cwd=root, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT
    )


if __name__ == "__main__":
    main()
