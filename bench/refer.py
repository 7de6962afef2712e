"""How often the refer policy sends real clients to a human.

Trains a bundle on the real Home Credit train sample (../shared, the command a user types), then
counts, on the real train and test samples, how many clients lack more than N of the policy's
K key features, for the bundle's N and for every other N (what a stricter or looser policy would
refer). Also checks that every real row passes the plausibility ranges.

    python bench/refer.py                    # trains with --folds 3 --n-estimators 200
    python bench/refer.py --bundle BUNDLE    # an existing bundle trained on the real sample

Writes bench/results/refer.json and refer.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
REAL = ROOT.parent / "shared" / "data" / "homecredit"
sys.path.insert(0, str(ROOT))  # this checkout's scoring package, whatever is installed
TRAIN_ARGS = ["--folds", "3", "--n-estimators", "200", "--no-mlflow", "--quiet"]


def train(out: Path) -> list[str]:
    command = [sys.executable, "-m", "scoring", "train", "--data", str(REAL), "--out", str(out)]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    subprocess.run(
        [*command, *TRAIN_ARGS], check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    return ["python -m scoring train --data ../shared/data/homecredit --out BUNDLE", *TRAIN_ARGS]


def measure(bundle: Path) -> dict[str, Any]:
    import pandas as pd

    from scoring.decision import missing_key_counts
    from scoring.model import ScoringModel
    from scoring.plausibility import plausibility

    model = ScoringModel.load(bundle)
    policy = model.policy
    samples: dict[str, Any] = {}
    for name in ("train", "test"):
        raw = pd.read_parquet(REAL / f"application_{name}_sample.parquet")
        for record in raw.to_dict("records"):
            plausibility().check_columns(record)  # raises on the first implausible real value
        X = model.transform(raw).to_numpy(dtype="float64")
        counts = missing_key_counts(X, model.feature_names, policy)
        key = [model.feature_names.index(f) for f in policy.features]
        samples[name] = {
            "rows": len(raw),
            "referred": int((counts > policy.max_missing).sum()),
            "referred_rate": round(float((counts > policy.max_missing).mean()), 4),
            "referred_rate_by_max_missing": {
                str(n): round(float((counts > n).mean()), 4) for n in range(len(key))
            },
            "missing_key_count_histogram": np.bincount(counts, minlength=len(key) + 1).tolist(),
            "missing_rate_by_feature": {
                f: round(float(np.isnan(X[:, i]).mean()), 4)
                for f, i in zip(policy.features, key, strict=True)
            },
            "all_rows_plausible": True,
        }
    return {
        "top_k": len(policy.features),
        "max_missing": policy.max_missing,
        "features": list(policy.features),
        "samples": samples,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Refer policy on the real Home Credit samples",
        "",
        f"Measured {result['measured_at']} ({result['load_average']}), `{result['command']}`.",
        "",
        f"Policy: refer when more than {result['max_missing']} of these {result['top_k']} "
        f"features are missing: {', '.join(result['features'])}.",
        "",
        "| sample | rows | referred | rate | all rows plausible |",
        "|---|---:|---:|---:|---|",
    ]
    for name, s in result["samples"].items():
        lines.append(
            f"| {name} | {s['rows']} | {s['referred']} | {s['referred_rate']:.2%} | "
            f"{s['all_rows_plausible']} |"
        )
    lines += ["", "Referral rate for other N (refer when more than N key features missing):", ""]
    lines += ["| N | " + " | ".join(result["samples"]) + " |", "|---:|" + "---:|" * 2]
    train_rates = result["samples"]["train"]["referred_rate_by_max_missing"]
    for n in train_rates:
        rates = [s["referred_rate_by_max_missing"][n] for s in result["samples"].values()]
        lines.append(f"| {n} | " + " | ".join(f"{r:.2%}" for r in rates) + " |")
    lines += ["", "Missing rate of each key feature (train):", ""]
    for f, r in result["samples"]["train"]["missing_rate_by_feature"].items():
        lines.append(f"- {f}: {r:.1%}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path)
    args = parser.parse_args()
    if not (REAL / "application_train_sample.parquet").exists():
        print(f"real sample not found in {REAL}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        if args.bundle is None:
            bundle = Path(tmp) / "bundle"
            command = " ".join(train(bundle))
        else:
            bundle, command = args.bundle, f"--bundle {args.bundle}"
        result = measure(bundle)
    load = os.getloadavg()
    result = {
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "command": command,
        "load_average": "load average " + ", ".join(f"{v:.2f}" for v in load),
        "python": platform.python_version(),
        **result,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "refer.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (RESULTS / "refer.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
