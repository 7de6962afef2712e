"""Server CPU per request of the per-record routes, split by thread: the event loop's thread, the
costly threads (they run at a lower priority: the largest nice value) and the others (audit
writer, probes), read from /proc/PID/task around each round of one uvicorn worker.

    python bench/route_threads.py --bundle var/bench/large-bundle

Prints one line per route (milliseconds of CPU per request, by thread group); Linux only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def thread_cpu(pid: int) -> dict[str, tuple[int, float]]:
    """Per thread id: its nice value and its CPU seconds (user + system)."""
    out: dict[str, tuple[int, float]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended
            continue
        ticks = int(fields[11]) + int(fields[12])
        out[tid] = (int(fields[16]), ticks / os.sysconf("SC_CLK_TCK"))
    return out


def split(pid: int, before: dict[str, tuple[int, float]], n: int) -> dict[str, float]:
    after = thread_cpu(pid)
    lowest = max(nice for nice, _ in after.values())
    groups: dict[str, float] = defaultdict(float)
    for tid, (nice, seconds) in after.items():
        used = seconds - before.get(tid, (nice, 0.0))[1]
        group = "event loop" if int(tid) == pid else "costly" if nice == lowest else "others"
        groups[group] += used / n * 1e3
    return {k: round(v, 3) for k, v in sorted(groups.items())}


def main(argv: list[str] | None = None) -> None:
    from bench.batch_route import Server, payloads

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bundle", default=str(ROOT / "var/demo/bundle"))
    parser.add_argument("--clients", default=str(ROOT / "var/demo/data"))
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--requests", type=int, default=600)
    args = parser.parse_args(argv)
    bundle, clients = Path(args.bundle).resolve(), Path(args.clients).resolve()
    _, batch, records, _ = payloads(bundle, clients)
    server = Server(ROOT, bundle, clients, Path(tempfile.mkdtemp(prefix="route-threads-")), "t")
    try:
        server.wait_ready()
        for path, bodies, n in (
            ("/v1/predict/batch", [batch], args.batches),
            ("/v1/explain", records, args.requests),
            ("/v1/predict", records, args.requests),
        ):
            server.round("POST", path, bodies, 3)  # warm
            before = thread_cpu(server.process.pid)
            server.round("POST", path, bodies, n)
            print(path, split(server.process.pid, before, n), "CPU ms per request")
    finally:
        server.stop()
    print("load average", [round(x, 2) for x in os.getloadavg()])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
