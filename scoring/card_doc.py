"""docs/model-card.md from a bundle: data, features, metrics, threshold, comparison, fairness.

`source(bundle)` extracts what the document says (plain JSON, committed beside it as
docs/model-card.json); `render(source)` writes the Markdown from that alone, so a test can
regenerate the committed document from the committed source and compare, without the bundle.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from scoring.bundle import Bundle

TOP_FEATURES = 10

LIMITS = [
    "Trained and measured on the sample in the bundle's data section, not on the full Home Credit "
    "portfolio: the AUC spread over folds shows how much a figure moves with the rows it is "
    "measured on; a difference between models smaller than that spread is not established.",
    "The threshold minimises the business cost for the stated weights; other weights give "
    "another threshold (`python -m scoring train --fn-cost --fp-cost`).",
    "Fairness figures are observed out-of-fold rates by group. A gap in approval rate partly "
    "reflects a gap in observed default rate; it is a measure to watch, not a proof of "
    "discrimination or of its absence. Groups under the minimum size are listed but not "
    "compared.",
    "Gender and age are model inputs when the card says so; removing them changes the AUC by "
    "the measured amount. Other inputs may correlate with them (not measured here), so removing "
    "them need not close the gaps.",
    "Advisors cannot edit gender or age in the what-if (they are not actionable).",
    "The model predicts payment difficulties as recorded in the training data; it says nothing "
    "about clients unlike those it was trained on.",
]


def source(bundle: Bundle, note: str = "") -> dict[str, Any]:
    """Everything the model card document states, from a loaded bundle (and a note on how it
    was trained, e.g. the command)."""
    meta = bundle.metadata
    kinds = Counter(f.dtype for f in meta.features)
    return {
        "note": note,
        "version": meta.version,
        "trained_at": meta.trained_at.isoformat(),
        "model": bundle.model_name,
        "card": bundle.card,
        "data": meta.data.model_dump(),
        "cost": meta.cost.model_dump(),
        "threshold": meta.threshold,
        "metrics": meta.metrics.model_dump(),
        "cv": {"folds": meta.cv.folds, "seed": meta.cv.seed, "fold_auc": meta.cv.fold_auc},
        "features": {
            "count": len(meta.features),
            "kinds": dict(sorted(kinds.items())),
            "actionable": sum(f.actionable for f in meta.features),
            "top": [
                {"name": name, "label": _label(bundle, name), "mean_abs_shap": value}
                for name, value in list(bundle.importance.items())[:TOP_FEATURES]
            ],
        },
        "library_versions": dict(meta.library_versions),
    }


def _label(bundle: Bundle, name: str) -> str:
    info = bundle.metadata.feature(name)
    return info.label if info else name


def _f(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render(src: dict[str, Any]) -> str:
    """The Markdown document (deterministic: the same source gives the same text)."""
    card = src.get("card") or {}
    data, metrics, cost = src["data"], src["metrics"], src["cost"]
    out = [
        "# Model card: Prêt à dépenser credit scoring",
        "",
        "Generated from the bundle by `python -m scoring model-card --bundle BUNDLE --out "
        "docs/model-card.md` (source: docs/model-card.json; a test checks they agree). Do not "
        "edit by hand.",
        "",
        *([f"{src['note']}", ""] if src.get("note") else []),
        f"- Version: `{src['version']}`, trained {src['trained_at']}",
        f"- Served model: **{src['model']}** ({card.get('description', 'LightGBM')})",
        "- Output: probability of payment difficulties; exact SHAP explanation in log-odds "
        "(TreeSHAP per booster, the scorecard's own linear contributions; they add up to the "
        "served score).",
        "",
        "## Data",
        "",
        f"{data['rows']} clients, {data['defaults']} with payment difficulties "
        f"({_pct(data['default_rate'])}); {data['features']} features; auxiliary tables: "
        f"{', '.join(data['auxiliary_tables']) or 'none'}; data fingerprint "
        f"`{data['fingerprint'][:16]}`.",
        "",
        "## Features",
        "",
        f"{src['features']['count']} features ("
        + ", ".join(f"{n} {k}" for k, n in src["features"]["kinds"].items())
        + f"); {src['features']['actionable']} can be edited by an advisor in the what-if. "
        "Most influential (mean |SHAP| over training rows):",
        "",
        *_table(
            ["feature", "label", "mean abs SHAP"],
            [
                [f"`{t['name']}`", t["label"], _f(t["mean_abs_shap"])]
                for t in src["features"]["top"]
            ],
        ),
        "",
        "## Metrics (out of fold)",
        "",
        f"{src['cv']['folds']}-fold stratified cross-validation (seed {src['cv']['seed']}); every "
        "figure is computed on clients the model had not seen.",
        "",
        *_table(
            ["AUC", "AUC std", "business cost", "recall", "precision", "refusal rate", "Brier"],
            [
                [
                    _f(metrics["auc"]),
                    _f(metrics["auc_std"]),
                    _f(metrics["business_cost"]),
                    _pct(metrics["recall"]),
                    _pct(metrics["precision"]),
                    _pct(metrics["refusal_rate"]),
                    _f(metrics["brier"]),
                ]
            ],
        ),
        "",
        "## Threshold and its cost reasoning",
        "",
        f"A missed default costs {cost['fn']:g}, a refused good client {cost['fp']:g}. The "
        f"threshold **{_f(src['threshold'])}** minimises the mean cost per client on the "
        f"out-of-fold probabilities: {_f(metrics['business_cost'])} per client, against "
        f"{_f(metrics['business_cost_accept_all'])} if every client were granted. A client is "
        "refused when the probability is at or above the threshold.",
        "",
    ]
    out += _comparison(card)
    out += _fairness(card)
    out += ["## Limits", "", *(f"- {line}" for line in LIMITS), ""]
    versions = ", ".join(f"{k} {v}" for k, v in sorted(src["library_versions"].items()))
    out += ["## Software", "", versions, ""]
    return "\n".join(out)


def _comparison(card: dict[str, Any]) -> list[str]:
    if not card:
        return ["## Comparison", "", "This bundle predates model cards: no comparison.", ""]
    choice = card["choice"]
    rows = [
        [
            f"**{r['model']}**" if r["model"] == card["model"] else r["model"],
            r["description"],
            f"{r['auc_mean']:.4f} ± {r['auc_std']:.4f}",
            _f(r["business_cost"]),
            _f(r["threshold"], 3),
            _f(r["brier"]),
            f"{r['fit_seconds']:.2f}",
            _f(r["explain_ms"], 2),
        ]
        for r in card["comparison"]
    ]
    beats = card["beats"]
    lines = [
        "## Comparison",
        "",
        "Every candidate on the same stratified folds (AUC: mean ± std over folds; cost at each "
        "model's own cost-optimal threshold; explain: one row's exact SHAP, ms, same run).",
        "",
        *_table(
            ["model", "what", "AUC", "cost", "threshold", "Brier", "fit s", "explain ms"], rows
        ),
        "",
        f"Rule: {choice['rule']}",
        "",
        f"Choice: {choice['reason']}.",
        f"Against {beats['incumbent']}: AUC {beats['auc_gain']:+.4f}, cost "
        f"{-beats['cost_saving']:+.4f} per client.",
    ]
    if beats["baseline"]:
        lines.append(
            f"Against the {beats['baseline']} baseline: AUC {beats['baseline_auc_gain']:+.4f}, "
            f"cost {-beats['baseline_cost_saving']:+.4f} per client."
        )
    return [*lines, ""]


def _fairness(card: dict[str, Any]) -> list[str]:
    if not card:
        return []
    report = card["fairness"]
    lines = [
        "## Fairness",
        "",
        f"Out of fold, at the threshold {_f(report['threshold'])}; a refusal is the model "
        "predicting a default. Differences (fairlearn) leave out groups of fewer than "
        f"{report['min_group']} clients.",
        "",
    ]
    for name, entry in report["attributes"].items():
        lines += [
            f"### {name}",
            "",
            *_table(
                [
                    "group",
                    "clients",
                    "approved",
                    "defaulted",
                    "defaults granted (FNR)",
                    "good clients refused (FPR)",
                ],
                [
                    [
                        g["group"] + ("" if g["in_differences"] else " (too small)"),
                        str(g["count"]),
                        _pct(g["approval_rate"]),
                        _pct(g["default_rate"]),
                        _pct(g["false_negative_rate"]),
                        _pct(g["false_positive_rate"]),
                    ]
                    for g in entry["groups"]
                ],
            ),
            "",
            f"Demographic-parity difference {_f(entry['demographic_parity_difference'], 3)}, "
            f"equalised-odds difference {_f(entry['equalized_odds_difference'], 3)}.",
            "",
        ]
    inputs = card["are_model_inputs"]
    protected = card["protected_inputs"]
    lines += [
        "### Gender and age as inputs",
        "",
        *(
            f"- {column}: {'a model input' if inputs[column] else 'not a model input'}"
            + (f" (features {', '.join(protected[column])})" if protected[column] else "")
            for column in inputs
        ),
    ]
    ablation = card.get("without_gender_and_age")
    if ablation:
        lines.append(
            f"- Removing them (same folds): mean AUC {ablation['auc_mean_with']:.4f} -> "
            f"{ablation['auc_mean_without']:.4f} ({ablation['auc_change']:+.4f}), business cost "
            f"{ablation['business_cost_with']:.4f} -> {ablation['business_cost_without']:.4f}."
        )
    return [*lines, ""]
