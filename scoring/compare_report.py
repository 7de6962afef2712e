"""Files of a comparison: comparison.json, choice.json, fairness.json, comparison.md, two PNGs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from scoring.compare import INCUMBENT, CandidateResult, Comparison
from scoring.cost import CostWeights
from scoring.plots import cost_plot, roc_plot

COMPARISON_FILE = "comparison.json"
CHOICE_FILE = "choice.json"
FAIRNESS_FILE = "fairness.json"
REPORT_FILE = "comparison.md"
ROC_FILE = "roc.png"
COST_FILE = "cost.png"
BASELINE = "scorecard"


def margin(a: CandidateResult, b: CandidateResult) -> dict[str, Any]:
    """a against b, fold by fold: AUC and cost differences, and whether they exceed the noise.

    "Beyond noise" means the mean paired cost difference is more than two standard errors of
    the per-fold differences away from zero.
    """
    cost_diff = np.subtract(a.fold_cost, b.fold_cost)
    auc_diff = np.subtract(a.fold_auc, b.fold_auc)
    folds = len(cost_diff)
    error = float(np.std(cost_diff, ddof=1) / np.sqrt(folds)) if folds > 1 else float("inf")
    return {
        "against": b.model,
        "auc_mean_change": float(auc_diff.mean()),
        "business_cost_change": a.business_cost - b.business_cost,
        "fold_cost_change_mean": float(cost_diff.mean()),
        "fold_cost_change_stderr": error,
        "folds_cheaper": int((cost_diff < 0).sum()),
        "folds_higher_auc": int((auc_diff > 0).sum()),
        "folds": folds,
        "beyond_noise": bool(abs(cost_diff.mean()) > 2 * error),
    }


def _num(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _results_table(comparison: Comparison) -> list[str]:
    lines = [
        "| model | AUC mean ± std | cost / client (fold std) | threshold | recall | precision "
        "| Brier | fit s / fold | predict ms | explain ms (x lightgbm) | servable |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = next((r.explain_ms for r in comparison.results if r.model == INCUMBENT), None)
    for r in sorted(comparison.results, key=lambda r: (r.business_cost, -r.auc_mean)):
        d = r.to_dict()
        ratio = f" ({r.explain_ms / base:.2f}x)" if r.explain_ms and base else ""
        lines.append(
            f"| {r.model} | {d['auc_mean']:.4f} ± {d['auc_std']:.4f} | "
            f"{d['business_cost']:.4f} ({d['cost_std']:.3f}) | {r.threshold:.3f} | "
            f"{_pct(r.recall)} | {_pct(r.precision)} | {r.brier:.4f} | {r.fit_seconds:.2f} | "
            f"{r.predict_ms:.3f} | {_num(r.explain_ms, 3)}{ratio} | "
            f"{'yes' if r.servable else 'no'} |"
        )
    return lines


def compared_with(comparison: Comparison) -> list[str]:
    """Whom the winner is measured against: the scorecard, today's LightGBM, the runner-up."""
    winner = comparison.choice.winner
    eligible = [comparison.result(n) for n in comparison.choice.eligible if n != winner]
    runner_up = min(eligible, key=lambda r: (r.business_cost, -r.auc_mean), default=None)
    names = [BASELINE, INCUMBENT, *([runner_up.model] if runner_up else [])]
    present = {r.model for r in comparison.results}
    return [n for n in dict.fromkeys(names) if n != winner and n in present]


def _margin_lines(comparison: Comparison) -> list[str]:
    winner = comparison.result(comparison.choice.winner)
    lines = []
    for other in compared_with(comparison):
        m = margin(winner, comparison.result(other))
        verdict = "beyond" if m["beyond_noise"] else "within"
        lines.append(
            f"- {winner.model} vs {other}: AUC {m['auc_mean_change']:+.4f}, cost "
            f"{m['business_cost_change']:+.4f} per client; cheaper on {m['folds_cheaper']} of "
            f"{m['folds']} folds (mean fold change {m['fold_cost_change_mean']:+.4f} ± "
            f"{m['fold_cost_change_stderr']:.4f} s.e.: {verdict} the fold noise)."
        )
    return lines


def _fairness_lines(fairness: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for model, report in fairness["models"].items():
        lines += ["", f"### {model} at threshold {report['threshold']:.3f}"]
        for attribute, entry in report["attributes"].items():
            lines += [
                "",
                f"{attribute}: demographic-parity difference "
                f"{_num(entry['demographic_parity_difference'])}, equalised-odds difference "
                f"{_num(entry['equalized_odds_difference'])}",
                "",
                "| group | count | approval rate | default rate | false-negative rate "
                "| false-positive rate |",
                "|---|---|---|---|---|---|",
            ]
            for g in entry["groups"]:
                small = "" if g["in_differences"] else " (too small: not in the differences)"
                lines.append(
                    f"| {g['group']}{small} | {g['count']} | {_pct(g['approval_rate'])} | "
                    f"{_pct(g['default_rate'])} | {_pct(g['false_negative_rate'])} | "
                    f"{_pct(g['false_positive_rate'])} |"
                )
    inputs = fairness["protected_inputs"]
    lines += ["", "### Gender and age as model inputs", ""]
    for column, features in inputs.items():
        used = ", ".join(features) if features else "none"
        lines.append(f"- {column} feeds the model through: {used}")
    for model, a in fairness["without_gender_and_age"].items():
        lines.append(
            f"- {model} without them: AUC {a['auc_mean_without']:.4f} "
            f"(with {a['auc_mean_with']:.4f}, change {a['auc_change']:+.4f}); cost "
            f"{a['business_cost_without']:.4f} (with {a['business_cost_with']:.4f})"
        )
    return lines


def render_markdown(comparison: Comparison) -> str:
    meta, choice = comparison.meta, comparison.choice
    lines = [
        "# Model comparison",
        "",
        f"Data: {meta.get('rows')} rows, {meta.get('defaults')} defaults; "
        f"{meta.get('folds')}-fold stratified CV (seed {meta.get('seed')}), the same folds for "
        f"every model. Cost per client = ({meta.get('fn_cost'):g} x missed defaults + "
        f"{meta.get('fp_cost'):g} x refused good clients) / n, each model at its own "
        "cost-optimal threshold chosen on its out-of-fold probabilities.",
        "",
        f"Command: `{meta.get('command')}`; {meta.get('measured_at')}; {meta.get('cpus')} CPUs, "
        f"load average {meta.get('load_average')} (times are upper bounds on a shared machine).",
        "",
        *_results_table(comparison),
        "",
        "## Choice",
        "",
        f"Rule: {choice.to_dict()['rule']}",
        "",
        f"- Winner: **{choice.winner}**. Default: **{choice.default}** ({choice.reason}).",
        *_margin_lines(comparison),
        f"- Eligible (servable within the serving budget): {', '.join(choice.eligible)}.",
        "",
        "## Fairness (out of fold, at each model's threshold)",
        "",
        "A refusal is the positive prediction. Demographic-parity difference: the largest gap in "
        "approval rate between groups; equalised-odds difference: the larger of the largest "
        "gaps in true- and false-positive rates (fairlearn).",
        *_fairness_lines(comparison.fairness),
        "",
        f"Figures: [{ROC_FILE}]({ROC_FILE}), [{COST_FILE}]({COST_FILE}).",
        "",
    ]
    return "\n".join(lines)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def write_report(comparison: Comparison, out: Path, weights: CostWeights) -> list[Path]:
    """Write every file of the comparison into `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / COMPARISON_FILE, [r.to_dict() for r in comparison.results])
    winner = comparison.result(comparison.choice.winner)
    margins = [margin(winner, comparison.result(name)) for name in compared_with(comparison)]
    _write_json(
        out / CHOICE_FILE, {**comparison.choice.to_dict(), "margins": margins, **comparison.meta}
    )
    _write_json(out / FAIRNESS_FILE, comparison.fairness)
    (out / REPORT_FILE).write_text(render_markdown(comparison), encoding="utf-8")
    y = comparison.y
    roc_plot(y, [(r.model, r.oof, r.auc) for r in comparison.results], out / ROC_FILE)
    cost_plot(
        y, [(r.model, r.oof, r.threshold) for r in comparison.results], weights, out / COST_FILE
    )
    return [
        out / f
        for f in (COMPARISON_FILE, CHOICE_FILE, FAIRNESS_FILE, REPORT_FILE, ROC_FILE, COST_FILE)
    ]
