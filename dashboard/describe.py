"""Text alternatives and tables for every chart (WCAG 1.1.1): pure, tested, in both languages."""

from __future__ import annotations

import pandas as pd

from dashboard.api_client import Distribution, Explanation, Importance, Neighbors, Scatter
from dashboard.i18n import Lang, num, pct, tr


def decision_words(probability: float, threshold: float, lang: Lang) -> str:
    """The decision and its distance from the threshold, as a sentence."""
    gap = abs(probability - threshold) * 100
    values = {
        "probability": pct(probability, lang),
        "threshold": pct(threshold, lang),
        "gap": f"{gap:.1f}".replace(".", "," if lang == "fr" else "."),
    }
    if round(gap, 1) == 0:
        return tr(lang, "decision.at", **values)
    return tr(lang, "decision.above" if probability >= threshold else "decision.below", **values)


def gauge_alt(probability: float, threshold: float, lang: Lang) -> str:
    verdict = tr(lang, "decision.refuse" if probability >= threshold else "decision.grant")
    return tr(
        lang,
        "gauge.alt",
        probability=pct(probability, lang),
        threshold=pct(threshold, lang),
        verdict=verdict,
    )


def gauge_table(probability: float, threshold: float, lang: Lang) -> pd.DataFrame:
    verdict = tr(lang, "decision.refuse" if probability >= threshold else "decision.grant")
    return pd.DataFrame(
        {
            tr(lang, "table.item"): [
                tr(lang, "gauge.title"),
                tr(lang, "gauge.threshold"),
                tr(lang, "col.effect"),
            ],
            tr(lang, "table.value"): [pct(probability, lang), pct(threshold, lang), verdict],
        }
    )


def _effect(shap: float, lang: Lang) -> str:
    return tr(lang, "direction.up" if shap > 0 else "direction.down")


def waterfall_alt(expl: Explanation, lang: Lang, top: int = 5) -> str:
    items = "; ".join(
        f"{c['label']} {c['shap']:+.2f} ({_effect(c['shap'], lang)})"
        for c in expl["contributions"][:top]
    )
    rest = tr(
        lang, "waterfall.alt_rest", count=expl["rest"]["count"], shap=f"{expl['rest']['shap']:+.2f}"
    )
    return tr(
        lang,
        "waterfall.alt",
        base=f"{expl['base_value']:.2f}",
        items=items,
        rest=rest,
        raw=f"{expl['raw_score']:.2f}",
        probability=pct(expl["probability"], lang),
    )


def waterfall_table(expl: Explanation, lang: Lang) -> pd.DataFrame:
    rows = [
        (c["label"], num(c["value"], lang), f"{c['shap']:+.3f}", _effect(c["shap"], lang))
        for c in expl["contributions"]
    ]
    if expl["rest"]["count"]:
        shap = expl["rest"]["shap"]
        label = tr(lang, "waterfall.rest", count=expl["rest"]["count"])
        rows.append((label, "", f"{shap:+.3f}", _effect(shap, lang)))
    columns = [tr(lang, k) for k in ("col.feature", "col.value", "col.contribution", "col.effect")]
    return pd.DataFrame(rows, columns=columns)


def importance_alt(items: list[Importance], lang: Lang, top: int = 5) -> str:
    listed = "; ".join(f"{i['label']} ({i['importance']:.2f})" for i in items[:top])
    return tr(lang, "importance.alt", count=len(items), items=listed)


def importance_table(items: list[Importance], lang: Lang) -> pd.DataFrame:
    return pd.DataFrame(
        [(i["label"], round(i["importance"], 3)) for i in items],
        columns=[tr(lang, "col.feature"), tr(lang, "col.importance")],
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
