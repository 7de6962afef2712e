"""One row's exact SHAP computed whole against computed in forest slices on several threads
(``ScoringModel.contributions(..., executor=, parts=)``), for a small and a large forest: the
latency (p50, p99) and the process CPU per call, rounds interleaved. It sets where splitting
starts to pay (``scoring.model.SPLIT_MIN_LEAVES``). Slices are cut as the model cuts them (equal
TreeSHAP cost, scoring/forest.py) and, beside them, as it cut them before (equal numbers of
boosting rounds), the same rows in the same rounds.

    python bench/explain_split.py --rounds 5

Bundles: var/bench/lgbm-bundle (the demo's LightGBM, 353 trees) and var/bench/large-bundle
(500 rounds x 31 leaves), trained once by bench/api.py's helpers when missing. Writes
bench/results/NAME.json and NAME.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def bundles() -> dict[str, Path]:
    from bench.api import DEMO_DATA, large_bundle, lightgbm_bundle

    return {
        "demo LightGBM": lightgbm_bundle(DEMO_DATA, ROOT / "var/bench/lgbm-bundle"),
        "large LightGBM": large_bundle(DEMO_DATA, ROOT / "var/bench/large-bundle"),
    }


def one_round(
    model: Any, rows: np.ndarray, parts: int, pool: ThreadPoolExecutor, n: int
) -> dict[str, float]:
    samples = []
    cpu = time.process_time()
    for i in range(n):
        x = rows[i % len(rows)][None, :]
        began = time.perf_counter()
        model.contributions(x, executor=pool, parts=parts)
        samples.append(time.perf_counter() - began)
    cpu_ms = (time.process_time() - cpu) / n * 1e3
    ms = np.array(samples) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "cpu_ms": cpu_ms}  # fmt: skip


def equal_rounds(model: Any, parts: int) -> Any:
    """A copy of `model` (same booster) whose `parts` slices hold equal numbers of rounds."""
    import copy

    import lightgbm as lgb

    from scoring.forest import forest_spans

    other = copy.copy(model)  # its slices are its own (ScoringModel.__getstate__)
    text = model.booster.model_to_string
    other._slices[parts] = [
        lgb.Booster(model_str=text(start_iteration=start, num_iteration=count))
        for start, count in forest_spans([1.0] * model.iterations, parts)
    ]
    return other


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    from scoring.clients import ClientBase
    from scoring.model import ScoringModel

    found = []
    with ThreadPoolExecutor(max(args.parts) - 1) as pool:
        for label, path in bundles().items():
            model = ScoringModel.load(path)
            rows = ClientBase.load(ROOT / "var/demo/data", model.builder).features()
            x = rows[model.feature_names].to_numpy(dtype="float64")
            variants = [(1, "whole", model)] + [
                (parts, split, model if split == "equal cost" else equal_rounds(model, parts))
                for parts in args.parts
                if parts > 1
                for split in ("equal cost", "equal rounds")
            ]
            for parts, _, variant in variants:
                variant.forest_slices(parts)
                one_round(variant, x, parts, pool, 30)  # warm-up
            rounds: list[list[dict[str, float]]] = [[] for _ in variants]
            order = list(range(len(variants)))
            for r in range(args.rounds):
                for i in order if r % 2 == 0 else order[::-1]:
                    parts, _, variant = variants[i]
                    rounds[i].append(one_round(variant, x, parts, pool, args.calls))
            for (parts, split, _), points in zip(variants, rounds, strict=True):
                found.append({
                    "bundle": label, "trees": model.iterations, "leaves": model.leaves,
                    "parts": parts, "split": split,
                    **{k: round(float(np.median([p[k] for p in points])), 4)
                       for k in ("p50_ms", "p99_ms", "cpu_ms")},
                })  # fmt: skip
    return found


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# One row's SHAP, whole or in forest slices",
        "",
        f"Measured {report['measured_at']} on {report['cpus']} CPUs, in-process, one row at a "
        f"time. Command: `{report['command']}`. Load average at the start "
        f"{report['load_average_at_start']}, at the end {report['load_average_at_end']} (shared "
        "machine). Each cell: the median over the rounds (interleaved, order reversed every "
        "round); ratios are to the same bundle's whole forest in this run.",
        "",
        "| bundle | trees | leaves | parts | slices of | p50 ms | p99 ms | CPU ms per call | "
        "p50 / whole | CPU / whole |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    whole = {r["bundle"]: r for r in report["results"] if r["parts"] == 1}
    for r in report["results"]:
        w = whole[r["bundle"]]
        lines.append(
            f"| {r['bundle']} | {r['trees']} | {r['leaves']} | {r['parts']} | "
            f"{r.get('split', 'equal rounds' if r['parts'] > 1 else 'whole')} | {r['p50_ms']} | "
            f"{r['p99_ms']} | {r['cpu_ms']} | {r['p50_ms'] / w['p50_ms']:.2f} | "
            f"{r['cpu_ms'] / w['cpu_ms']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300, help="calls per round")
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--name", default="explain-split")
    args = parser.parse_args(argv)
    if 1 not in args.parts:
        args.parts = [1, *args.parts]
    load_start = [round(x, 2) for x in os.getloadavg()]
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/explain_split.py " + " ".join(sys.argv[1:]),
        "load_average_at_start": load_start,
        "cpus": os.cpu_count(),
        "results": measure(args),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
