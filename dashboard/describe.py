"""Text alternatives and tables for every chart (WCAG 1.1.1): pure, tested, in both languages."""

from __future__ import annotations

import pandas as pd

from dashboard.api_client import (
    Decision,
    Distribution,
    DriftSummary,
    Explanation,
    Importance,
    Neighbors,
    Scatter,
)
from dashboard.i18n import Lang, num, pct, pct_pair, points, tr
from dashboard.probability_steps import average_probability, steps


def decision_words(probability: float, threshold: float, lang: Lang) -> str:
    """Where the probability stands against the threshold, as a sentence that never reads as
    a contradiction after rounding: both shown with enough decimals to differ, and "just
    below" when they are closer than a tenth of a point. The verdict itself is the API's."""
    shown, limit, _ = pct_pair(probability, threshold, lang)
    gap = (probability - threshold) * 100
    values = {
        "probability": shown,
        "threshold": limit,
        "gap": points(abs(gap), lang, signed=False),
    }
    if round(abs(gap), 1) == 0:
        key = "decision.just_above" if gap > 0 else "decision.just_below" if gap < 0 else None
        return tr(lang, key or "decision.at", **values)
    return tr(lang, "decision.above" if gap > 0 else "decision.below", **values)


def verdict(decision: Decision, lang: Lang) -> str:
    """The API's decision in words."""
    return tr(lang, f"decision.{decision}")


def gauge_alt(probability: float, threshold: float, decision: Decision, lang: Lang) -> str:
    shown, limit, _ = pct_pair(probability, threshold, lang)
    return tr(
        lang,
        "gauge.alt",
        probability=shown,
        threshold=limit,
        verdict=verdict(decision, lang),
    )


def gauge_table(
    probability: float, threshold: float, decision: Decision, lang: Lang
) -> pd.DataFrame:
    shown, limit, _ = pct_pair(probability, threshold, lang)
    return pd.DataFrame(
        {
            tr(lang, "table.item"): [
                tr(lang, "gauge.title"),
                tr(lang, "gauge.threshold"),
                tr(lang, "col.effect"),
            ],
            tr(lang, "table.value"): [shown, limit, verdict(decision, lang)],
        }
    )


def _effect(raises: bool, lang: Lang) -> str:
    return tr(lang, "direction.up" if raises else "direction.down")


def waterfall_alt(expl: Explanation, lang: Lang, top: int = 5) -> str:
    walk = steps(expl, tr(lang, "waterfall.rest", count=expl["rest"]["count"]))
    shown = walk[: min(top, len(expl["contributions"]))]
    items = "; ".join(
        f"{s.label} {points(s.points, lang)} ({_effect(s.raises, lang)})" for s in shown
    )
    rest = tr(
        lang,
        "waterfall.alt_rest",
        count=expl["rest"]["count"],
        points=points(walk[-1].points if expl["rest"]["count"] else 0.0, lang),
    )
    return tr(
        lang,
        "waterfall.alt",
        base=pct(average_probability(expl), lang),
        items=items,
        rest=rest,
        probability=pct(expl["probability"], lang),
    )


def waterfall_table(expl: Explanation, lang: Lang) -> pd.DataFrame:
    walk = steps(expl, tr(lang, "waterfall.rest", count=expl["rest"]["count"]))
    rows = [(s.label, s.value_text, points(s.points, lang), _effect(s.raises, lang)) for s in walk]
    columns = [tr(lang, k) for k in ("col.feature", "col.value", "col.contribution", "col.effect")]
    return pd.DataFrame(rows, columns=columns)


def local_weights(expl: Explanation, lang: Lang) -> tuple[list[Importance], list[bool]]:
    """This client's characteristics by the points each moves the probability (the same walk
    as the waterfall), and whether each raises the risk."""
    walk = steps(expl, "")[: len(expl["contributions"])]
    items: list[Importance] = [
        {"feature": c["feature"], "label": s.label, "importance": abs(s.points)}
        for c, s in zip(expl["contributions"], walk, strict=True)
    ]
    return items, [s.raises for s in walk]


def relative(items: list[Importance]) -> list[Importance]:
    """Importances on a plain scale: the most influential is 100."""
    top = max((i["importance"] for i in items), default=0.0) or 1.0
    return [{**i, "importance": round(100 * i["importance"] / top, 1)} for i in items]


def _weight(value: float, lang: Lang) -> str:
    return num(value, lang, 1 if abs(value) >= 10 else 2)


def importance_alt(items: list[Importance], lang: Lang, top: int = 5) -> str:
    listed = "; ".join(f"{i['label']} ({_weight(i['importance'], lang)})" for i in items[:top])
    return tr(lang, "importance.alt", count=len(items), items=listed)


def importance_table(
    items: list[Importance], lang: Lang, header: str | None = None
) -> pd.DataFrame:
    """Label and weight of each item; ``header`` names the weight (the chart's axis)."""
    return pd.DataFrame(
        [(i["label"], _weight(i["importance"], lang)) for i in items],
        columns=[tr(lang, "col.feature"), header or tr(lang, "col.importance")],
    )


def _client_bin(dist: Distribution) -> int | None:
    value, edges = dist["client_value"], dist["bin_edges"]
    if value is None or not edges:
        return None
    for i in range(len(edges) - 1):
        if value < edges[i + 1]:
            return i
    return len(edges) - 2


def distribution_alt(dist: Distribution, label: str, lang: Lang) -> str:
    i = _client_bin(dist)
    if i is None:
        position = tr(lang, "dist.alt_missing")
    else:
        n0, n1 = dist["counts_0"][i], dist["counts_1"][i]
        share = pct(n1 / (n0 + n1), lang) if n0 + n1 else pct(0.0, lang)
        position = tr(
            lang,
            "dist.alt_client",
            value=num(dist["client_value"], lang),
            low=num(dist["bin_edges"][i], lang),
            high=num(dist["bin_edges"][i + 1], lang),
            share=share,
        )
    return tr(
        lang,
        "dist.alt",
        label=label,
        n0=num(sum(dist["counts_0"]), lang),
        n1=num(sum(dist["counts_1"]), lang),
        position=position,
    )


def distribution_table(dist: Distribution, lang: Lang) -> pd.DataFrame:
    edges = dist["bin_edges"]
    client = _client_bin(dist)
    rows = [
        (
            num(edges[i], lang) + ("  ◀ " + tr(lang, "dist.client") if i == client else ""),
            num(edges[i + 1], lang),
            dist["counts_0"][i],
            dist["counts_1"][i],
        )
        for i in range(len(edges) - 1)
    ]
    columns = [tr(lang, k) for k in ("col.from", "col.to", "dist.repaid", "dist.defaulted")]
    return pd.DataFrame(rows, columns=columns)


def scatter_alt(
    data: Scatter,
    x_label: str,
    y_label: str,
    client_xy: tuple[float | None, float | None],
    lang: Lang,
) -> str:
    targets = data["points"]["target"]
    n1 = sum(1 for t in targets if t == 1)
    return tr(
        lang,
        "scatter.alt",
        n=len(targets),
        x=x_label,
        y=y_label,
        n1=n1,
        n0=len(targets) - n1,
        cx=num(client_xy[0], lang),
        cy=num(client_xy[1], lang),
    )


def scatter_table(data: Scatter, x_label: str, y_label: str, lang: Lang) -> pd.DataFrame:
    """Summary per outcome (a 500-row table would help nobody): count and medians."""
    pts = data["points"]
    frame = pd.DataFrame({"x": pts["x"], "y": pts["y"], "t": pts["target"]})
    rows = []
    for target, key in ((0, "dist.repaid"), (1, "dist.defaulted")):
        group = frame[frame["t"] == target]
        rows.append(
            (
                tr(lang, key),
                len(group),
                num(group["x"].median(), lang),
                num(group["y"].median(), lang),
            )
        )
    columns = [
        tr(lang, "col.outcome"),
        tr(lang, "col.count"),
        tr(lang, "col.median", label=x_label),
        tr(lang, "col.median", label=y_label),
    ]
    return pd.DataFrame(rows, columns=columns)


def neighbors_alt(data: Neighbors, threshold: float, lang: Lang) -> str:
    n1 = sum(1 for n in data["items"] if n["target"] == 1)
    return tr(lang, "neighbors.alt", k=len(data["items"]), n1=n1, threshold=pct(threshold, lang))


def neighbors_table(data: Neighbors, lang: Lang) -> pd.DataFrame:
    rows = [
        (
            str(n["client_id"]),
            num(n["distance"], lang),
            tr(lang, "dist.defaulted" if n["target"] == 1 else "dist.repaid"),
            pct(n["probability"], lang),
        )
        for n in data["items"]
    ]
    columns = [
        tr(lang, k) for k in ("col.client", "col.distance", "col.outcome", "col.probability")
    ]
    return pd.DataFrame(rows, columns=columns)


# --- data drift --------------------------------------------------------------------------------
def drift_line(summary: DriftSummary, lang: Lang) -> str:
    """The verdict in plain words: how many characteristics moved, and what to do about it."""
    window = summary["window"]
    since = (window["since"] or "")[:10]  # ISO date
    if lang == "fr" and len(since) == 10:
        since = f"{since[8:10]}/{since[5:7]}/{since[:4]}"
    values = {
        "rows": num(window["rows"], lang, 0),
        "since": since,
        "drifted": len(summary["drifted"]),
        "tested": summary["tested"],
        "share": pct(summary["share_drifted"] or 0.0, lang),
    }
    return tr(lang, "drift.detected" if summary["dataset_drift"] else "drift.none", **values)


def drift_alt(summary: DriftSummary, labels: dict[str, str], lang: Lang, top: int = 5) -> str:
    moved = [labels.get(name, name) for name in summary["drifted"][:top]]
    line = drift_line(summary, lang)
    return f"{line} {tr(lang, 'drift.moved', features=', '.join(moved))}" if moved else line


def drift_table(summary: DriftSummary, labels: dict[str, str], lang: Lang) -> pd.DataFrame:
    """Every tested characteristic: its test, value, threshold and whether it moved."""
    rows = []
    for f in summary["features"]:
        if f["test"] == "not_tested":
            continue
        value = f["p_value"] if f["p_value"] is not None else f["distance"]
        rows.append(
            (
                labels.get(f["feature"], f["feature"]),
                f["test"],
                num(value, lang, 4),
                num(f["threshold"], lang, 2),
                tr(lang, "value.yes" if f["drifted"] else "value.no"),
            )
        )
    columns = ["col.feature", "col.test", "col.drift_value", "col.drift_threshold", "col.drifted"]
    return pd.DataFrame(rows, columns=[tr(lang, c) for c in columns])
