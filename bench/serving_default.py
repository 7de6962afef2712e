"""Serving speed of the new default bundle against today's LightGBM bundle, through ScoringModel.

Both bundles are loaded as the API loads them (`ScoringModel.load`) and timed in one process,
interleaved call by call on the same rows (`score` = probability + decision, `explain` = exact
SHAP), so the ratio holds on a busy machine. The budget: within 2x of today's.

    python -m scoring train --data ../shared/data/homecredit --out /tmp/default
    python -m scoring train --data ../shared/data/homecredit --out /tmp/lgbm --candidates lightgbm
    python bench/serving_default.py --default /tmp/default --today /tmp/lgbm

Writes serving-default.json and .md to bench/results/ (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.serving_models import BUDGET, interleaved, summary  # noqa: E402

RESULTS = ROOT / "bench" / "results"
ROWS = 200


def measure(default: Path, today: Path) -> dict[str, Any]:
    from scoring.model import ScoringModel

    new, old = ScoringModel.load(default), ScoringModel.load(today)
    if new.feature_names != old.feature_names:
        raise SystemExit("the two bundles must be trained on the same data (features differ)")
    rows = new.reference[new.feature_names].to_numpy(dtype="float64")[:ROWS]
    load_before = os.getloadavg()
    times = interleaved(
        {
            "today_score": lambda r: old.score(r[0]),
            "default_score": lambda r: new.score(r[0]),
            "today_explain": lambda r: old.explain(r[0]),
            "default_explain": lambda r: new.explain(r[0]),
        },
        rows,
    )
    load_after = os.getloadavg()
    stats = {name: summary(values) for name, values in times.items()}
    ratios = {
        kind: round(stats[f"default_{kind}"]["p50_ms"] / stats[f"today_{kind}"]["p50_ms"], 3)
        for kind in ("score", "explain")
    }
    return {
        "default_model": new.model_name,
        "default_version": new.version,
        "today_model": old.model_name,
        "today_version": old.version,
        "rows": len(rows),
        "timings": stats,
        "ratio_p50": ratios,
        "within_budget": all(r <= BUDGET for r in ratios.values()),
        "budget": BUDGET,
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def markdown(results: dict[str, Any]) -> str:
    t = results["timings"]
    lines = [
        "# Serving speed: the new default against today's LightGBM",
        "",
        f"Default `{results['default_model']}` ({results['default_version']}) against "
        f"`{results['today_model']}` ({results['today_version']}), both through "
        f"`ScoringModel`, {results['rows']} rows interleaved call by call; "
        f"{results['measured_at']} (load average {results['load_average_before']} before, "
        f"{results['load_average_after']} after; {results['cpus']} CPUs, shared machine).",
        "",
        "| call | today p50 ms | default p50 ms | ratio (default / today) |",
        "|---|---|---|---|",
    ]
    for kind in ("score", "explain"):
        lines.append(
            f"| {kind} | {t[f'today_{kind}']['p50_ms']} | {t[f'default_{kind}']['p50_ms']} | "
            f"{results['ratio_p50'][kind]} |"
        )
    verdict = "within" if results["within_budget"] else "OVER"
    lines += ["", f"Budget {results['budget']:g}x: {verdict}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default", type=Path, required=True, help="the new default's bundle")
    parser.add_argument("--today", type=Path, required=True, help="a LightGBM bundle")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = measure(args.default, args.today)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serving-default.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "serving-default.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
