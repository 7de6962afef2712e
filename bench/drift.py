"""How Evidently's default drift tests (scoring/drift.py) behave on the demo data, by window size.

Builds the demo tables and a quick bundle (the test suite's settings: 3000 training rows), then,
for current samples of the unshifted new clients of several sizes, the share of features that
look drifted by chance alone (what API_DRIFT_MIN_ROWS guards against), and for the same sizes
of a shifted copy (incomes x1.6, external score 2 x0.6) whether the shifted features are named;
and the time of one comparison at the API's largest window (5000 rows).

    python bench/drift.py                     # builds demo data and a bundle in a temp folder
    python bench/drift.py --bundle B --data D # an existing bundle and its demo data folder

Writes bench/results/drift.json and drift.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))  # this checkout's scoring package, whatever is installed
SIZES = [100, 200, 300, 500]
SEEDS = 10
SHIFTED = ["AMT_INCOME_TOTAL", "EXT_SOURCE_2"]
TRAIN_ARGS = ["--folds", "3", "--n-estimators", "60", "--no-mlflow", "--quiet"]


def _scoring(*args: str) -> None:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    command = [sys.executable, "-m", "scoring", *args]
    subprocess.run(command, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def build(folder: Path) -> tuple[Path, Path]:
    data, bundle = folder / "data", folder / "bundle"
    _scoring("demo-data", "--out", str(data), "--rows", "3000")
    _scoring("train", "--data", str(data), "--out", str(bundle), *TRAIN_ARGS,
             "--candidates", "lightgbm")  # fmt: skip
    return bundle, data


def measure(bundle: Path, data: Path) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from scoring.bundle import load_bundle
    from scoring.clients import ClientBase, load_client_tables
    from scoring.drift import compare, reference_features

    loaded = load_bundle(bundle)
    names = loaded.builder.feature_names
    categorical = {f.name for f in loaded.metadata.features if f.dtype == "category"}
    reference = reference_features(loaded.reference, names)
    base = ClientBase.from_tables(load_client_tables(data), loaded.builder)
    current = base.features().reset_index(drop=True)
    shifted_raw = base.applications.copy()
    shifted_raw["AMT_INCOME_TOTAL"] *= 1.6
    shifted_raw["EXT_SOURCE_2"] *= 0.6
    shifted = base.features(shifted_raw).reset_index(drop=True)
    rows: list[dict[str, Any]] = []
    for size in [*SIZES, len(current)]:
        shares, dataset, named = [], 0, 0
        for seed in range(SEEDS):
            sample = current.sample(min(size, len(current)), random_state=seed)
            report = compare(reference, sample, categorical)
            shares.append(report.share_drifted)
            dataset += report.dataset_drift
            moved = shifted.sample(min(size, len(shifted)), random_state=seed)
            named += set(SHIFTED) <= set(compare(reference, moved, categorical).drifted)
        rows.append(
            {
                "rows": min(size, len(current)),
                "unshifted_share_drifted_mean": round(float(np.mean(shares)), 4),
                "unshifted_share_drifted_max": round(float(np.max(shares)), 4),
                "unshifted_dataset_drift_runs": int(dataset),
                "shifted_features_named_runs": int(named),
                "runs": SEEDS,
            }
        )
    big = pd.concat([current] * (5000 // len(current) + 1), ignore_index=True).iloc[:5000]
    started = time.perf_counter()
    compare(reference, big, categorical)
    return {
        "reference_rows": len(reference),
        "features": len(names),
        "new_clients": len(current),
        "by_rows": rows,
        "compare_5000_rows_s": round(time.perf_counter() - started, 3),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Drift tests on the demo data, by window size",
        "",
        f"Measured {result['measured_at']} ({result['load_average']}), `{result['command']}`.",
        f"Reference: {result['reference_rows']} training rows, {result['features']} features; "
        f"current: samples of the {result['new_clients']} demo new clients, {SEEDS} seeds each.",
        "",
        "| rows | unshifted: share drifted, mean | max | dataset drift (runs) "
        "| shifted: AMT_INCOME_TOTAL and EXT_SOURCE_2 named (runs) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in result["by_rows"]:
        lines.append(
            f"| {r['rows']} | {r['unshifted_share_drifted_mean']:.1%} | "
            f"{r['unshifted_share_drifted_max']:.1%} | {r['unshifted_dataset_drift_runs']}/"
            f"{r['runs']} | {r['shifted_features_named_runs']}/{r['runs']} |"
        )
    lines += [
        "",
        f"One comparison of 5000 current rows: {result['compare_5000_rows_s']} s (wall, this "
        "machine's load as above).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.bundle is None or args.data is None:
            bundle, data = build(Path(tmp))
            command = "python bench/drift.py"
        else:
            bundle, data = args.bundle, args.data
            command = f"python bench/drift.py --bundle {bundle} --data {data}"
        measured = measure(bundle, data)
    load = os.getloadavg()
    result = {
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "command": command,
        "load_average": "load average " + ", ".join(f"{v:.2f}" for v in load),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        **measured,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "drift.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (RESULTS / "drift.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
