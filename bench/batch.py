"""Portfolio batch benchmark: rows/s of `python -m scoring batch`, pandas vs Spark, score and
score + explain, next to the in-process floor (the booster's predict and pred_contrib on the
same rows, one thread).

Each engine run is its own subprocess (the command a user types); its peak memory is the
largest resident set of the process tree (driver, JVM, Python workers), sampled with psutil
every 0.2 s. Demo applications only (no auxiliary tables: their generation dominates at these
sizes); the bundle is any trained bundle (the demo one by default).

    python bench/batch.py --bundle var/demo/bundle --sizes 100000 300000 --engines pandas spark

Writes bench/results/batch.json and batch.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
ROW_GROUP = 50_000  # rows per Parquet row group of the generated input


def applications(rows: int, folder: Path) -> Path:
    from scoring.demo_data import generate_demo

    _, test = generate_demo(10, rows, seed=7)
    path = folder / f"applications-{rows}.parquet"
    # row groups of 50k rows, as a large extract has: Spark splits a big file by them (a single
    # row group is one partition, which the engine must first spread over the cores)
    test.to_parquet(path, index=False, row_group_size=ROW_GROUP)
    return path


FLOOR_ROWS = 100_000  # the floor's rows/s is per row: timed on the first rows at most


def floor(bundle: Path, path: Path) -> dict[str, float]:
    """Rows/s of Booster.predict and pred_contrib (1 thread) on the rows' features (the first
    FLOOR_ROWS of them: a million rows of pred_contrib would take minutes for the same rate)."""
    import pandas as pd

    from scoring.model import ScoringModel

    model = ScoringModel.load(bundle)
    rows = pd.read_parquet(path).head(FLOOR_ROWS)
    X = model.builder.transform(rows, aggregates=model.builder.aggregates({}))
    matrix = np.ascontiguousarray(X.to_numpy(dtype="float64"))
    out = {}
    for name, contrib in (("predict", False), ("pred_contrib", True)):
        start = time.perf_counter()
        model.booster.predict(matrix, pred_contrib=contrib, num_threads=1)
        out[name] = len(matrix) / (time.perf_counter() - start)
    return out


def _cores(engine: str) -> int:
    """Cores an engine row used: N of spark local[N], else 1 (the pandas engine, 1 thread)."""
    if "local[" in engine:
        inside = engine.split("local[", 1)[1].rstrip("]")
        return int(inside) if inside.isdigit() else os.cpu_count() or 1
    return 1


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of the process tree of a command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parent = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(process.stderr.read().decode()[-2000:] if process.stderr else "")
    return seconds, peak / 2**20


def _merged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier results of other (rows, engine, explain) kept, each with its own date."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for row in rows:
        row.setdefault("measured_at", now)
    path = RESULTS / "batch.json"
    earlier = json.loads(path.read_text()).get("rows", []) if path.exists() else []
    done = {(r["rows"], r["engine"], r["explain_top"]) for r in rows}
    kept = [r for r in earlier if (r["rows"], r["engine"], r["explain_top"]) not in done]
    for row in kept:
        row.setdefault("measured_at", "2026-12-01T23:22:03+00:00")  # the first file's date
    return sorted(kept + rows, key=lambda r: (r["rows"], r["explain_top"], r["engine"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, default=ROOT / "var" / "demo" / "bundle")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--engines", nargs="+", default=["pandas", "spark"])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--explain", type=int, nargs="+", default=[0, 3], help="top-K values")
    args = parser.parse_args()
    rows_out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        for size in args.sizes:
            path = applications(size, Path(tmp))
            speeds = floor(args.bundle, path)
            for explain in args.explain:
                base = "predict" if explain == 0 else "pred_contrib"
                for engine in args.engines:
                    out = str(Path(tmp) / f"out-{engine}")
                    command = [
                        sys.executable, "-m", "scoring", "batch", "--bundle", str(args.bundle),
                        "--input", str(path), "--out", out, "--engine", engine,
                        "--explain-top", str(explain), "--quiet", "--master", args.master,
                    ]  # fmt: skip
                    seconds, peak = run(command)
                    label = engine if engine == "pandas" else f"spark {args.master}"
                    row = {
                        "rows": size,
                        "engine": label,
                        "explain_top": explain,
                        "seconds": round(seconds, 1),
                        "rows_per_s": round(size / seconds),
                        "floor_rows_per_s": round(speeds[base]),
                        "floor": base,
                        "ratio_to_floor": round(size / seconds / speeds[base], 3),
                        "ratio_per_core": round(size / seconds / _cores(label) / speeds[base], 3),
                        "peak_rss_mib": round(peak),
                        "load_average": [round(v, 2) for v in os.getloadavg()],
                    }
                    print(json.dumps(row), flush=True)
                    rows_out.append(row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows_out = _merged(rows_out)
    meta = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count()}
    (RESULTS / "batch.json").write_text(json.dumps({"meta": meta, "rows": rows_out}, indent=1))
    lines = [
        f"# Portfolio batch scoring ({meta['measured_at']}, {meta['cpus']} CPUs)",
        "",
        "Ratio: rows/s per core of the engine (spark local[N]: rows/s / N) over the floor's "
        "rows/s on one thread, measured beside it. Rows of other sizes keep their own date.",
        "",
        "| rows | engine | explain | s | rows/s | per core | floor rows/s (1 thread) | ratio "
        "| peak RSS MiB | load avg | measured |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows_out:
        cores = _cores(r["engine"])
        per_core = r["rows_per_s"] / cores
        lines.append(
            f"| {r['rows']} | {r['engine']} | {r['explain_top']} | {r['seconds']} | "
            f"{r['rows_per_s']} | {per_core:.0f} | {r['floor_rows_per_s']} ({r['floor']}) | "
            f"{per_core / r['floor_rows_per_s']:.3f} | {r['peak_rss_mib']} | "
            f"{' '.join(map(str, r['load_average']))} | {r['measured_at'][:16]} |"
        )
    (RESULTS / "batch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
