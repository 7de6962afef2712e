"""Serving cost of a comparison candidate against today's model: one row, predict and explain.

Today's model is what `python -m scoring train` serves: one LightGBM booster, scored with
`Booster.predict` and explained with `pred_contrib` (one thread, a numpy row: the path of
`scoring.model.ScoringModel`). The candidate is fit on all rows by its own recipe
(`scoring.candidates`) and served as an `Ensemble`. Both are timed in the same process,
interleaved call by call on the same rows, so the ratio holds even on a busy machine.

    python bench/serving_models.py                                 # real sample, blend
    python bench/serving_models.py --model scorecard blend_monotone
    python bench/serving_models.py --data var/demo/data --out /tmp  # demo data

Writes serving-models.json and .md to bench/results/ (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
REAL = ROOT.parent / "shared" / "data" / "homecredit"
ROWS = 200
ROUNDS = 5
BUDGET = 2.0  # serving must stay within 2x of today's


def interleaved(
    calls: dict[str, Callable[[np.ndarray], object]], rows: np.ndarray
) -> dict[str, list[float]]:
    """Per-call wall times (ms) of every callable, alternating them row by row."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call(rows[:1])  # warm-up
    for _ in range(ROUNDS):
        for i in range(len(rows)):
            row = rows[i : i + 1]
            for name, call in calls.items():
                start = time.perf_counter()
                call(row)
                times[name].append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.median(times)), 4),
        "p95_ms": round(float(np.percentile(times, 95)), 4),
        "mean_ms": round(float(np.mean(times)), 4),
    }


def measure(data: Path, models: list[str], seed: int) -> dict[str, Any]:
    from scoring.candidates import CANDIDATES, FitContext
    from scoring.data import load_tables
    from scoring.ensemble import Ensemble
    from scoring.features import FeatureBuilder
    from scoring.schema import TARGET
    from scoring.train import TrainConfig, train_model

    tables = load_tables(data, require_train=True, require_test=False)
    assert tables.train is not None
    config = TrainConfig(seed=seed)
    today = train_model(tables.train, tables.aux, config)  # exactly `python -m scoring train`
    booster = today.booster
    builder = FeatureBuilder().fit(tables.train, tables.aux)
    X = builder.transform(tables.train, tables.aux)
    y = tables.train[TARGET].to_numpy(dtype="int64")
    fitted: dict[str, Ensemble] = {}
    for name in models:
        model = CANDIDATES[name].fit(X, y, builder.categorical_features, FitContext(config))
        assert isinstance(model, Ensemble), f"{name} is not servable"
        fitted[name] = model
    rows = X.to_numpy(dtype="float64")[
        np.random.default_rng(seed).choice(len(X), min(ROWS, len(X)), replace=False)
    ]
    calls: dict[str, Callable[[np.ndarray], object]] = {
        "today predict": lambda r: booster.predict(r, num_threads=1),
        "today explain": lambda r: booster.predict(r, pred_contrib=True, num_threads=1),
    }
    for name, model in fitted.items():
        calls[f"{name} predict"] = lambda r, m=model: m.predict_proba(r, threads=1)  # type: ignore[misc]
        calls[f"{name} explain"] = lambda r, m=model: m.contributions(r, threads=1)  # type: ignore[misc]
    load_before = os.getloadavg()
    times = interleaved(calls, rows)
    load_after = os.getloadavg()
    figures = {name: summary(t) for name, t in times.items()}
    candidates = {}
    for name, model in fitted.items():
        contrib = model.contributions(rows, threads=1)
        error = float(np.max(np.abs(contrib.sum(axis=1) - model.predict_raw(rows, threads=1))))
        ratios = {
            kind: round(figures[f"{name} {kind}"]["p50_ms"] / figures[f"today {kind}"]["p50_ms"], 3)
            for kind in ("predict", "explain")
        }
        candidates[name] = {
            "members": model.describe(),
            "ratio_p50_vs_today": ratios,
            "within_budget": all(r <= BUDGET for r in ratios.values()),
            "max_additivity_error": error,
        }
    return {
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "command": "python bench/serving_models.py " + " ".join(sys.argv[1:]),
        "data": {"rows": len(y), "defaults": int(y.sum()), "features": X.shape[1]},
        "today_trees": booster.num_trees(),
        "rows_timed": len(rows),
        "rounds": ROUNDS,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "timings": figures,
        "candidates": candidates,
        "budget_ratio": BUDGET,
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Serving cost: comparison candidates against today's model",
        "",
        f"Measured {results['measured_at']} with `{results['command']}` on {results['cpus']} CPUs "
        f"(load average {results['load_average_before']} before, "
        f"{results['load_average_after']} after; shared machine). "
        f"{results['rows_timed']} rows x {results['rounds']} rounds, one row per call, one "
        f"thread, calls interleaved. Data: {results['data']['rows']} rows; today's model "
        f"{results['today_trees']} trees.",
        "",
        "| call | p50 ms | p95 ms | mean ms |",
        "|---|---:|---:|---:|",
    ]
    for name, t in results["timings"].items():
        lines.append(f"| {name} | {t['p50_ms']:.4f} | {t['p95_ms']:.4f} | {t['mean_ms']:.4f} |")
    lines += [
        "",
        "| candidate | trees per booster | predict ratio | explain ratio | within 2x "
        "| max abs(base + SHAP - raw) |",
        "|---|---|---:|---:|---|---:|",
    ]
    for name, c in results["candidates"].items():
        r = c["ratio_p50_vs_today"]
        lines.append(
            f"| {name} | {c['members']['trees']} | {r['predict']:.2f} | {r['explain']:.2f} "
            f"| {'yes' if c['within_budget'] else 'NO'} | {c['max_additivity_error']:.1e} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REAL, help="folder with application_train")
    parser.add_argument("--model", nargs="+", default=["blend"], help="servable candidates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = measure(args.data, args.model, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serving-models.json").write_text(json.dumps(results, indent=1) + "\n")
    text = markdown(results)
    (args.out / "serving-models.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
