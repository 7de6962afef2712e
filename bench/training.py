"""Training benchmark: wall time and peak memory of `python -m scoring train` on demo data.

Each step runs in its own subprocess (the same command a user types), so its peak resident
memory is that process's own `ru_maxrss`, read with os.wait4, and no state leaks between sizes.

    python bench/training.py                     # 30k, 100k, 300k rows + the demo bundle
    python bench/training.py --sizes 30000       # a subset
    python bench/training.py --no-demo           # skip the `make demo` path
    python bench/training.py --sizes --no-demo --profile 300000   # where the CPU time goes

Writes bench/results/training.json and training.md (merging with sizes measured earlier, so a
subset run updates its rows and keeps the others).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_SIZES = [30_000, 100_000, 300_000]
DEMO_ROWS = 20_000  # what `make demo` generates (demo-data's default)
TARGET_300K_S = 15 * 60
TARGET_DEMO_S = 60


@dataclass
class Step:
    command: str
    seconds: float
    cpu_seconds: float  # user + system, all threads: what the step costs without contention
    peak_rss_mb: float
    returncode: int


@dataclass
class Measure:
    name: str
    rows: int
    generate: Step
    train: Step
    metrics: dict[str, float]
    best_iterations: list[int]
    features: int

    @property
    def total_s(self) -> float:
        return self.generate.seconds + self.train.seconds


def run_step(args: list[str]) -> Step:
    """Run `python -m scoring ARGS` in a child process; its wall time and peak RSS."""
    command = [sys.executable, "-m", "scoring", *args]
    # Output goes to a file, not a pipe: nobody reads a pipe while we block in wait4.
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        # wait4 gives the rusage of this very child, not the sum over all children so far.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        returncode = os.waitstatus_to_exitcode(status)
        process.returncode = returncode
        if returncode != 0:
            log.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed ({returncode}):\n{log.read()[-2000:]}")
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    peak = usage.ru_maxrss * scale / 2**20
    cpu = usage.ru_utime + usage.ru_stime
    shown = "python -m scoring " + " ".join(args)
    return Step(shown, round(seconds, 2), round(cpu, 2), round(peak, 1), returncode)


def measure(name: str, rows: int, work: Path, train_args: list[str]) -> Measure:
    data, bundle = work / f"data-{rows}", work / f"bundle-{rows}"
    generate = run_step(["demo-data", "--out", str(data), "--rows", str(rows)])
    train = run_step(["train", "--data", str(data), "--out", str(bundle), *train_args])
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(bundle, ignore_errors=True)
    return Measure(
        name=name,
        rows=rows,
        generate=generate,
        train=train,
        metrics={k: round(float(v), 4) for k, v in metadata["metrics"].items()},
        best_iterations=list(metadata["cv"]["best_iterations"]),
        features=int(metadata["data"]["features"]),
    )


# Train in-process under cProfile with a CPU clock: LightGBM's OpenMP threads are charged to the
# Python call that started them (lgb.train, Booster.predict), which is the attribution we want.
_PROFILED_TRAIN = """
import cProfile, sys, time
from scoring.cli import main
profiler = cProfile.Profile(time.process_time)
profiler.enable()
code = main(sys.argv[2:])
profiler.disable()
profiler.dump_stats(sys.argv[1])
sys.exit(code)
"""
# The steps of `train` worth naming, by (file suffix, function), in pipeline order.
_PHASES = [
    ("<frozen importlib._bootstrap>", "_find_and_load", "imports (lightgbm, sklearn, ...)"),
    ("scoring/data.py", "load_tables", "load + validate"),
    ("scoring/features.py", "fit", "features: fit"),
    ("scoring/features.py", "transform", "features: transform (all calls)"),
    ("scoring/train.py", "cross_validate", "cross-validation (all folds)"),
    ("lightgbm/engine.py", "train", "lgb.train (CV folds + final)"),
    ("lightgbm/basic.py", "predict", "Booster.predict (all: OOF, importance)"),
    ("scoring/train.py", "evaluate", "threshold + metrics"),
    ("scoring/assemble.py", "global_importance", "global mean abs SHAP"),
    ("scoring/reference.py", "summary_statistics", "reference statistics"),
    ("scoring/bundle.py", "save_bundle", "save bundle"),
    ("scoring/data.py", "fingerprint", "data fingerprint"),
]


def profile(rows: int, work: Path) -> dict[str, Any]:
    """CPU seconds of each step of `train` at `rows` rows (one profiled run)."""
    data, bundle, stats = work / f"data-{rows}", work / f"bundle-{rows}", work / "train.prof"
    run_step(["demo-data", "--out", str(data), "--rows", str(rows)])
    options = ["--no-mlflow", "--quiet"]
    args = ["train", "--data", str(data), "--out", str(bundle), *options]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", _PROFILED_TRAIN, str(stats), *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    table = pstats.Stats(str(stats)).stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, name), (_, _, _, ct, _) in table.items() if name == "main")
    phases = {}
    for suffix, function, label in _PHASES:
        cumulative = [
            ct
            for (file, _, name), (_, _, _, ct, _) in table.items()
            if name == function and file.endswith(suffix)
        ]
        phases[label] = round(max(cumulative, default=0.0), 1)
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(bundle, ignore_errors=True)
    return {
        "rows": rows,
        "command": f"python -m scoring train --data DATA --out BUNDLE {' '.join(options)}",
        "wall_s": round(seconds, 1),
        "cpu_s_total": round(total, 1),
        "cpu_s_by_step": phases,
        "best_iterations": metadata["cv"]["best_iterations"],
        "final_trees": metadata["params"]["n_estimators"],
    }


def _environment() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load],
        "niceness": os.nice(0),
    }


def _row(m: Measure) -> dict[str, Any]:
    return {**asdict(m), "total_s": round(m.total_s, 2)}


def _cpu(step: dict[str, Any]) -> str:
    return f"{step['cpu_seconds']:.1f}" if "cpu_seconds" in step else "n/a"


def _markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    lines = [
        "# Training benchmark",
        "",
        f"Measured {results['measured_at']} with `{results['command']}` on {env['cpus']} CPUs "
        f"(load average at start {env['load_average_at_start']}, niceness {env['niceness']}; "
        "the machine is shared, so times are upper bounds). Each step is its own process; "
        "peak RSS is that process's `ru_maxrss`. Demo data generated by "
        "`python -m scoring demo-data`; training with 5-fold CV and default parameters "
        "(`--no-mlflow --quiet`).",
        "",
        "| run | rows | generate s | train s (wall) | train CPU s | train peak RSS MiB | CV AUC "
        "| cost/client | best iterations | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for m in results["runs"]:
        if m["name"] == "demo":
            target, limit = "demo bundle (generate + train) <= 60 s", TARGET_DEMO_S
            seconds = m["total_s"]
        elif m["rows"] == 300_000:
            target, limit = "train <= 15 min", TARGET_300K_S
            seconds = m["train"]["seconds"]
        else:
            target, limit, seconds = "", None, 0.0
        verdict = f"{target}: {'met' if seconds <= limit else 'MISSED'}" if limit else ""
        lines.append(
            f"| {m['name']} | {m['rows']:,} | {m['generate']['seconds']:.1f} "
            f"| {m['train']['seconds']:.1f} | {_cpu(m['train'])} | {m['train']['peak_rss_mb']:.0f} "
            f"| {m['metrics']['auc']:.4f} | {m['metrics']['business_cost']:.4f} "
            f"| {m['best_iterations']} | {verdict} |"
        )
    lines += ["", "Commands:", ""]
    for m in results["runs"]:
        lines += [f"- `{m['generate']['command']}`", f"  then `{m['train']['command']}`"]
    prof = results.get("profile")
    if prof:
        lines += [
            "",
            f"## Where the CPU time goes ({prof['rows']:,} rows)",
            "",
            f"`{prof['command']}` under cProfile (CPU clock): {prof['cpu_s_total']:.0f} CPU s "
            f"({prof['wall_s']:.0f} s wall); CV best iterations {prof['best_iterations']}, "
            f"final model {prof['final_trees']} trees. Steps overlap (cumulative times: "
            "cross-validation contains its lgb.train and predict calls).",
            "",
            "| step | CPU s | share |",
            "|---|---:|---:|",
        ]
        for label, cpu in prof["cpu_s_by_step"].items():
            share = cpu / prof["cpu_s_total"] if prof["cpu_s_total"] else 0.0
            lines.append(f"| {label} | {cpu:.1f} | {share:.0%} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=DEFAULT_SIZES)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo bundle build")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--profile", type=int, metavar="ROWS", help="also profile one train at ROWS rows"
    )
    args = parser.parse_args(argv)

    previous: dict[str, Any] = {}
    earlier_profile = None
    json_path = args.out / "training.json"
    if json_path.exists():
        earlier = json.loads(json_path.read_text())
        previous = {m["name"]: m for m in earlier["runs"]}
        earlier_profile = earlier.get("profile")

    runs: dict[str, dict[str, Any]] = dict(previous)
    train_args = ["--folds", str(args.folds), "--no-mlflow", "--quiet"]
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        work = Path(tmp)
        plan = [] if args.no_demo else [("demo", DEMO_ROWS, ["--no-mlflow", "--quiet"])]
        plan += [(f"{rows // 1000}k", rows, train_args) for rows in args.sizes]
        for name, rows, extra in plan:
            print(f"{name}: {rows:,} rows ...", file=sys.stderr, flush=True)
            m = measure(name, rows, work, extra)
            runs[name] = _row(m)
            print(
                f"{name:>5} {rows:>8,} rows  generate {m.generate.seconds:7.1f} s  "
                f"train {m.train.seconds:7.1f} s  peak {m.train.peak_rss_mb:7.0f} MiB  "
                f"AUC {m.metrics['auc']:.4f}  cost {m.metrics['business_cost']:.4f}",
                flush=True,
            )
        if args.profile:
            print(f"profile: {args.profile:,} rows ...", file=sys.stderr, flush=True)
            earlier_profile = profile(args.profile, work)
            print(json.dumps(earlier_profile, indent=1), flush=True)
    ordered = sorted(runs.values(), key=lambda m: (m["name"] != "demo", m["rows"]))
    results = {
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "command": "python bench/training.py " + " ".join(argv or sys.argv[1:]),
        "environment": _environment(),
        "targets": {"train_300k_s": TARGET_300K_S, "demo_bundle_s": TARGET_DEMO_S},
        "runs": ordered,
        "profile": earlier_profile,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out / "training.md").write_text(_markdown(results), encoding="utf-8")
    print(_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
