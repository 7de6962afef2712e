"""Portfolio batch benchmark: rows/s of `python -m scoring batch`, pandas vs Spark, score and
score + explain, next to the in-process floor (the model's predict and pred_contrib on the same
rows' features, one thread: ``Booster.predict`` for a LightGBM bundle).

Each engine run is its own subprocess (the command a user types), measured three ways:

- wall seconds, end to end (interpreter, imports, bundle, Spark session, writes);
- CPU seconds of the whole process tree (driver, JVM, Python workers), sampled with psutil every
  0.2 s: on a shared machine CPU seconds say more than the wall; rows per CPU second is the
  per-core rate of any engine, Spark local[N] included;
- peak memory of the tree: the sum of RSS (pages shared by forked workers counted once per
  process) and of PSS (shared pages split between the processes, what the machine really holds).

With two sizes or more, each (engine, explain) also gets its steady-state rate: the marginal
rows per CPU second (and per wall second) between consecutive sizes, which leaves out the fixed
start-up cost that both runs pay. That rate over the floor is the per-row ratio.

Demo applications only (no auxiliary tables: their generation dominates at these sizes); the
bundle is any trained bundle (the demo one by default).

    python bench/batch.py --bundle var/demo/bundle --sizes 50000 100000 --engines pandas spark

`--engines spark-io` runs the Spark engine with ``--spark-io spark`` (Spark reads the
applications, sends their columns to the Python workers and writes what they return) beside
the default, where the workers read the file and write the part files themselves.

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
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

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


# what --engines names: the engine, its extra options, the suffix of its label
ENGINES: dict[str, tuple[str, list[str], str]] = {
    "pandas": ("pandas", [], ""),
    "spark": ("spark", [], ""),  # the Python workers read and write the files (the default)
    "spark-io": ("spark", ["--spark-io", "spark"], ", Spark's reader"),
}
FLOOR_ROWS = 100_000  # the floor's rows/s is per row: timed on the first rows at most


def floor(bundle: Path, path: Path) -> dict[str, float]:
    """Rows per CPU second of the model's predict and pred_contrib (1 thread) on the rows'
    features (the first FLOOR_ROWS of them: a million rows of pred_contrib would take minutes
    for the same rate). One thread: rows per CPU second is rows/s."""
    import pandas as pd

    from scoring.model import ScoringModel

    model = ScoringModel.load(bundle)
    rows = pd.read_parquet(path).head(FLOOR_ROWS)
    _, matrix, _ = model.builder.matrix(rows, aggregates=model.builder.aggregates({}))
    out = {}
    for name, call in (("predict", model.predict_proba), ("pred_contrib", model.contributions)):
        call(matrix[:100], threads=1)  # warm
        start = time.process_time()
        call(matrix, threads=1)
        out[name] = len(matrix) / (time.process_time() - start)
    return out


def _cores(engine: str) -> int:
    """Cores an engine row used: N of spark local[N], else 1 (the pandas engine, 1 thread)."""
    if "local[" in engine:
        inside = engine.split("local[", 1)[1].rstrip("]")
        return int(inside) if inside.isdigit() else os.cpu_count() or 1
    return 1


@dataclass
class Measure:
    seconds: float
    cpu_s: float
    rss_mib: float
    pss_mib: float
    cpu_by_kind: dict[str, float]  # CPU s of the driver, the JVM, the Python workers, others


def kind_of(proc: psutil.Process, root: int) -> str:
    """What a process of the tree is: the command's own (driver), the JVM (spark-submit
    execs java), a Python worker of Spark's, or something else (a shell, a chmod)."""
    if proc.pid == root:
        return "driver"
    name = proc.name()
    if name == "java":
        return "jvm"
    return "python workers" if name.startswith("python") else "other"


def run(command: list[str]) -> Measure:
    """Wall seconds, CPU seconds and peak RSS / PSS (MiB) of the process tree of a command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parent = psutil.Process(process.pid)
    cpu: dict[int, float] = {}
    kinds: dict[int, str] = {}
    rss = pss = 0
    while process.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
        except psutil.Error:
            break
        rss_now = pss_now = 0
        for proc in tree:
            try:
                times = proc.cpu_times()
                memory = proc.memory_full_info()
                kinds[proc.pid] = kind_of(proc, parent.pid)  # again: a process may exec
            except psutil.Error:
                continue
            cpu[proc.pid] = times.user + times.system
            rss_now += memory.rss
            pss_now += getattr(memory, "pss", memory.rss)
        rss, pss = max(rss, rss_now), max(pss, pss_now)
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    process.wait()
    if process.returncode != 0:
        raise RuntimeError(process.stderr.read().decode()[-2000:] if process.stderr else "")
    by_kind: dict[str, float] = {}
    for pid, used in cpu.items():
        by_kind[kinds[pid]] = by_kind.get(kinds[pid], 0.0) + used
    return Measure(seconds, sum(cpu.values()), rss / 2**20, pss / 2**20, by_kind)


KEY = ("bundle", "rows", "engine", "explain_top")


def _merged(name: str, rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """Earlier results of other keys kept (each with its own date); the older format (without
    CPU seconds) is dropped: it measured another bundle and code."""
    path = RESULTS / "batch.json"
    earlier = json.loads(path.read_text()).get(name, []) if path.exists() else []
    done = {tuple(r[k] for k in key) for r in rows}
    kept = [
        r
        for r in earlier
        if "cpu_s" in r or name == "steady"
        if all(k in r for k in key) and tuple(r[k] for k in key) not in done
    ]
    return sorted(kept + rows, key=lambda r: tuple(r[k] for k in key))


def steady(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Marginal rates between consecutive sizes of the same (bundle, engine, explain)."""
    out = []
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["bundle"], row["engine"], row["explain_top"]), []).append(row)
    for (bundle, engine, explain), runs in groups.items():
        runs.sort(key=lambda r: r["rows"])
        for small, large in pairwise(runs):
            extra = large["rows"] - small["rows"]
            cpu, wall = large["cpu_s"] - small["cpu_s"], large["seconds"] - small["seconds"]
            per_cpu = extra / cpu if cpu > 0 else float("nan")
            out.append(
                {
                    "bundle": bundle,
                    "engine": engine,
                    "explain_top": explain,
                    "sizes": f"{small['rows']}-{large['rows']}",
                    "marginal_rows_per_cpu_s": round(per_cpu),
                    # the wall is noisy on a shared machine: a larger run may even take less
                    "marginal_rows_per_s": round(extra / wall) if wall > 0 else "n/a",
                    "fixed_cpu_s": round(small["cpu_s"] - small["rows"] / per_cpu, 1),
                    "floor": large["floor"],
                    "floor_rows_per_cpu_s": large["floor_rows_per_cpu_s"],
                    "ratio": round(per_cpu / large["floor_rows_per_cpu_s"], 3),
                    "rss_growth_mib": large["peak_rss_mib"] - small["peak_rss_mib"],
                    "pss_growth_mib": large["peak_pss_mib"] - small["peak_pss_mib"],
                    "measured_at": large["measured_at"],
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, default=ROOT / "var" / "demo" / "bundle")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--engines", nargs="+", choices=list(ENGINES), default=["pandas", "spark"])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--explain", type=int, nargs="+", default=[0, 3], help="top-K values")
    args = parser.parse_args()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    bundle = args.bundle.resolve().name
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
                        "--input", str(path), "--out", out, "--engine", ENGINES[engine][0],
                        "--explain-top", str(explain), "--quiet", "--master", args.master,
                        *ENGINES[engine][1],
                    ]  # fmt: skip
                    measure = run(command)
                    label = engine if engine == "pandas" else f"spark {args.master}"
                    label += ENGINES[engine][2]
                    per_s = size / measure.seconds
                    per_cpu = size / measure.cpu_s
                    row = {
                        "bundle": bundle,
                        "rows": size,
                        "engine": label,
                        "explain_top": explain,
                        "seconds": round(measure.seconds, 1),
                        "cpu_s": round(measure.cpu_s, 1),
                        "rows_per_s": round(per_s),
                        "rows_per_cpu_s": round(per_cpu),
                        "floor": base,
                        "floor_rows_per_cpu_s": round(speeds[base]),
                        "ratio_per_core": round(per_s / _cores(label) / speeds[base], 3),
                        "ratio_cpu": round(per_cpu / speeds[base], 3),
                        "cpu_s_by_process": {
                            k: round(v, 1) for k, v in sorted(measure.cpu_by_kind.items())
                        },
                        # the floor's CPU s for these rows: what each process's share compares to
                        "floor_cpu_s": round(size / speeds[base], 1),
                        "peak_rss_mib": round(measure.rss_mib),
                        "peak_pss_mib": round(measure.pss_mib),
                        "load_average": [round(v, 2) for v in os.getloadavg()],
                        "measured_at": now,
                    }
                    print(json.dumps(row), flush=True)
                    rows_out.append(row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    steady_out = _merged("steady", steady(rows_out), ("bundle", "engine", "explain_top", "sizes"))
    rows_out = _merged("rows", rows_out, KEY)
    meta = {"measured_at": now, "cpus": os.cpu_count()}
    document = {"meta": meta, "rows": rows_out, "steady": steady_out}
    (RESULTS / "batch.json").write_text(json.dumps(document, indent=1))
    (RESULTS / "batch.md").write_text(markdown(meta, rows_out, steady_out))
    print((RESULTS / "batch.md").read_text())


def markdown(
    meta: dict[str, Any], rows: list[dict[str, Any]], steady_rows: list[dict[str, Any]]
) -> str:
    lines = [
        f"# Portfolio batch scoring ({meta['measured_at']}, {meta['cpus']} CPUs)",
        "",
        "End to end, one subprocess per run. CPU s: the whole process tree (driver, JVM, Python "
        "workers). Ratios over the floor (the model's own predict / pred_contrib, one thread, "
        "rows per CPU s): `per core` = rows/s / cores (local[N]: N) / floor; `CPU` = rows per "
        "CPU s / floor. RSS sums the processes' resident sets; PSS splits shared pages.",
        "",
        "| bundle | rows | engine | explain | wall s | CPU s | rows/s | rows/CPU s | floor "
        "rows/CPU s | per core | CPU | peak RSS MiB | peak PSS MiB | load avg | measured |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['bundle']} | {r['rows']} | {r['engine']} | {r['explain_top']} | "
            f"{r['seconds']} | {r['cpu_s']} | {r['rows_per_s']} | {r['rows_per_cpu_s']} | "
            f"{r['floor_rows_per_cpu_s']} ({r['floor']}) | {r['ratio_per_core']:.3f} | "
            f"{r['ratio_cpu']:.3f} | {r['peak_rss_mib']} | {r['peak_pss_mib']} | "
            f"{' '.join(map(str, r['load_average']))} | {r['measured_at'][:16]} |"
        )
    split = [r for r in rows if "cpu_s_by_process" in r]
    if split:
        lines += [
            "",
            "## Where the CPU goes",
            "",
            "CPU s of each kind of process of a run (the command's own interpreter: driver; "
            "Spark's JVM; the Python workers it forks), next to the floor's CPU s for the same "
            "rows (the model call alone, one thread).",
            "",
            "| bundle | rows | engine | explain | driver | JVM | Python workers | other | "
            "floor CPU s | JVM / floor | workers / floor | measured |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in split:
            kinds, base = r["cpu_s_by_process"], r["floor_cpu_s"]
            lines.append(
                f"| {r['bundle']} | {r['rows']} | {r['engine']} | {r['explain_top']} | "
                f"{kinds.get('driver', 0)} | {kinds.get('jvm', 0)} | "
                f"{kinds.get('python workers', 0)} | {kinds.get('other', 0)} | {base} | "
                f"{kinds.get('jvm', 0) / base:.2f} | "
                f"{kinds.get('python workers', 0) / base:.2f} | {r['measured_at'][:16]} |"
            )
    lines += [
        "",
        "## Steady state (marginal between two sizes of the same run)",
        "",
        "Extra rows / extra CPU s (and wall s) from the smaller run to the larger: the per-row "
        "cost without the fixed start-up, which is `fixed CPU s` (the smaller run's CPU s less "
        "its rows at the marginal rate). Ratio: marginal rows per CPU s / floor.",
        "",
        "| bundle | engine | explain | sizes | rows/CPU s | rows/s (wall) | fixed CPU s "
        "| floor rows/CPU s | ratio | RSS growth MiB | PSS growth MiB | measured |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in steady_rows:
        lines.append(
            f"| {r['bundle']} | {r['engine']} | {r['explain_top']} | {r['sizes']} | "
            f"{r['marginal_rows_per_cpu_s']} | {r['marginal_rows_per_s']} | {r['fixed_cpu_s']} | "
            f"{r['floor_rows_per_cpu_s']} ({r['floor']}) | {r['ratio']:.3f} | "
            f"{r['rss_growth_mib']} | {r['pss_growth_mib']} | {r['measured_at'][:16]} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
