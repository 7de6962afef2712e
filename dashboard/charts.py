"""Plotly figure builders: pure functions of API responses, no Streamlit.

Colour never carries meaning alone: "raises the risk" / "payment difficulties" marks are
vermilion *and* hatched (bars) or crosses (points), with signs or words in their labels.
Each builder has a text alternative and a table in ``dashboard.describe``.
"""

from __future__ import annotations

import math
from itertools import pairwise

import plotly.graph_objects as go

from dashboard import theme
from dashboard.api_client import (
    Decision,
    Distribution,
    DriftSummary,
    Explanation,
    Neighbors,
    Scatter,
)
from dashboard.i18n import NBSP, Lang, num, pct, tr
from dashboard.probability_steps import average_probability, steps

FONT = {"family": "Source Sans Pro, Segoe UI, Arial, sans-serif", "size": 14, "color": theme.INK}


def _layout(fig: go.Figure, title: str, height: int, lang: Lang = "en") -> go.Figure:
    fig.update_layout(
        separators=", " if lang == "fr" else ".,",
        title={"text": title, "font": {"size": 16}},
        font=FONT,
        height=height,
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
        paper_bgcolor=theme.WHITE,
        plot_bgcolor=theme.WHITE,
        legend={"orientation": "h", "y": -0.2},
        hoverlabel={"font": {"size": 14}},
    )
    fig.update_xaxes(gridcolor=theme.GRID, zerolinecolor=theme.ZERO_LINE, automargin=True)
    fig.update_yaxes(gridcolor=theme.GRID, zerolinecolor=theme.ZERO_LINE, automargin=True)
    return fig


def _percent_sign(lang: Lang) -> str:
    """ "%" as each language writes it after a number: "10%", "10 %" (no-break space)."""
    return f"{NBSP}%" if lang == "fr" else "%"


def _marker(up: list[bool]) -> dict[str, object]:
    """Vermilion and hatched when a bar raises the risk, blue and plain when it lowers it."""
    return {
        "color": [theme.VERMILION if u else theme.BLUE for u in up],
        "pattern": {
            "shape": [theme.PATTERN_RISK_UP if u else theme.PATTERN_RISK_DOWN for u in up],
            "fgcolor": theme.WHITE,
        },
        "line": {"color": theme.INK, "width": 1},
    }


def gauge_max(probability: float, threshold: float) -> float:
    """Top of the dial: zoomed so that a 10 % threshold is not squeezed into a corner, in
    steps of 10 points, never below twice the threshold nor above 100 %."""
    top = max(2 * threshold, 1.25 * probability, 0.1)
    return min(1.0, math.ceil(round(top * 10, 6)) / 10)


def gauge(
    probability: float,
    threshold: float,
    decision: Decision,
    lang: Lang,
    top_probability: float | None = None,
) -> go.Figure:
    """Default probability on a dial, the threshold marked, the two zones tinted; the bar has
    the colour of the API's decision.

    ``top_probability`` lets two dials shown side by side share one scale."""
    refused = decision == "refuse"
    bar = theme.REFER_BAR if decision == "refer" else theme.VERMILION if refused else theme.BLUE
    top = gauge_max(top_probability or probability, threshold) * 100
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number",
            value=round(probability * 100, 1),
            number={"suffix": _percent_sign(lang), "font": {"size": 40}},
            gauge={
                "axis": {
                    "range": [0, top],
                    "ticksuffix": _percent_sign(lang),
                    "tickcolor": theme.INK,
                },
                "bar": {"color": bar, "thickness": 0.35},
                "steps": [
                    {"range": [0, threshold * 100], "color": theme.GRANT_TINT},
                    {"range": [threshold * 100, top], "color": theme.REFUSE_TINT},
                ],
                "threshold": {
                    "line": {"color": theme.INK, "width": 4},
                    "thickness": 0.9,
                    "value": threshold * 100,
                },
            },
        )
    )
    fig.add_annotation(
        text=f"{tr(lang, 'gauge.threshold')} {pct(threshold, lang)}",
        x=0.5,
        y=-0.12,
        showarrow=False,
        font={"size": 14},
    )
    return _layout(fig, tr(lang, "gauge.title"), 280, lang).update_layout(
        margin={"l": 40, "r": 40, "t": 60, "b": 40}
    )


def waterfall(expl: Explanation, lang: Lang) -> go.Figure:
    """Floating bars in probability points, from the average client's default probability to
    this client's, largest effect on top. No number is printed over a bar: the table under the
    chart gives them."""
    walk = steps(expl, tr(lang, "waterfall.rest", count=expl["rest"]["count"]))
    up = [s.raises for s in walk]
    fig = go.Figure(
        go.Bar(
            orientation="h",
            y=[s.label for s in walk],
            x=[s.points for s in walk],
            base=[s.start * 100 for s in walk],
            marker=_marker(up),
            hovertemplate="%{y}: %{x:+.1f}<extra></extra>",
            showlegend=False,
        )
    )
    marks = [
        (average_probability(expl), "dot", tr(lang, "waterfall.base")),
        (expl["probability"], "solid", tr(lang, "waterfall.final")),
        (expl["threshold"], "dash", tr(lang, "gauge.threshold")),
    ]
    for x, dash, text in marks:
        fig.add_vline(x=x * 100, line={"color": theme.INK, "dash": dash, "width": 2})
        fig.add_annotation(
            x=x * 100,
            y=1.0,
            yref="paper",
            yanchor="bottom",
            text=text,
            showarrow=False,
            font={"size": 12},
            textangle=-30,
        )
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title=tr(lang, "waterfall.axis"), ticksuffix=_percent_sign(lang))
    height = 160 + 34 * len(walk)
    return _layout(fig, tr(lang, "explanation.title"), height, lang).update_layout(margin={"t": 90})


def bars(
    labels: list[str],
    values: list[float],
    title: str,
    axis: str,
    risk_up: list[bool] | None = None,
    lang: Lang = "en",
) -> go.Figure:
    """Horizontal bars, largest on top; ``risk_up`` colours and hatches each bar by direction.
    No number over a bar: the table under the chart gives them."""
    up = risk_up or [False] * len(values)
    fig = go.Figure(
        go.Bar(
            orientation="h",
            y=labels,
            x=values,
            marker=_marker(up),
            hovertemplate="%{y}: %{x:.1f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title=axis)
    return _layout(fig, title, 140 + 30 * len(values), lang)


def drift(summary: DriftSummary, labels: dict[str, str], lang: Lang, top: int = 15) -> go.Figure:
    """The strongest drifts on one scale (each test's value relative to its threshold), the
    threshold marked: vermilion and hatched past it, blue under it."""
    tested = [f for f in summary["features"] if f["test"] != "not_tested"][:top]
    fig = go.Figure(
        go.Bar(
            orientation="h",
            y=[labels.get(f["feature"], f["feature"]) for f in tested],
            x=[f["score"] for f in tested],
            marker=_marker([f["drifted"] for f in tested]),
            hovertemplate="%{y}: %{x:.2f}<extra></extra>",
        )
    )
    fig.add_vline(
        x=1.0,
        line={"color": theme.INK, "dash": "dash"},
        annotation_text=tr(lang, "drift.threshold"),
        annotation_position="top",
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title=tr(lang, "drift.axis"), rangemode="tozero")
    return _layout(fig, tr(lang, "drift.chart"), 160 + 30 * len(tested), lang)


def distribution(dist: Distribution, label: str, lang: Lang) -> go.Figure:
    """Share of each outcome group per bin, the client's value marked with a line and words."""
    edges = dist["bin_edges"]
    centres = [(a + b) / 2 for a, b in pairwise(edges)]
    widths = [(b - a) * 0.45 for a, b in pairwise(edges)]
    fig = go.Figure()
    groups = (
        (dist["counts_0"], tr(lang, "dist.repaid"), theme.BLUE, theme.PATTERN_RISK_DOWN, -1),
        (dist["counts_1"], tr(lang, "dist.defaulted"), theme.VERMILION, theme.PATTERN_RISK_UP, 1),
    )
    for counts, name, colour, pattern, side in groups:
        total = sum(counts) or 1
        fig.add_bar(
            x=[c + side * w / 2 for c, w in zip(centres, widths, strict=True)],
            y=[100 * n / total for n in counts],
            width=widths,
            name=name,
            marker={
                "color": colour,
                "pattern": {"shape": pattern, "fgcolor": theme.WHITE, "bgcolor": colour},
                "line": {"color": theme.INK, "width": 1},
            },
            hovertemplate=f"{name}: %{{y:.1f}}%<extra></extra>",
        )
    if dist["client_value"] is not None:
        fig.add_vline(x=dist["client_value"], line={"color": theme.INK, "width": 3})
        fig.add_annotation(
            x=dist["client_value"],
            y=1,
            yref="paper",
            yanchor="bottom",
            text=f"▼ {tr(lang, 'dist.client')}: {num(dist['client_value'], lang)}",
            showarrow=False,
            font={"size": 13},
        )
    fig.update_xaxes(title=label)
    fig.update_yaxes(title=tr(lang, "dist.axis_y"), ticksuffix=_percent_sign(lang))
    fig.update_layout(barmode="overlay", margin={"t": 80})
    return _layout(fig, tr(lang, "dist.title", label=label), 380, lang)


def scatter(
    data: Scatter,
    x_label: str,
    y_label: str,
    client_xy: tuple[float | None, float | None],
    by_score: bool,
    lang: Lang,
) -> go.Figure:
    """Reference clients: circles repaid, crosses defaulted; colour by outcome or by score."""
    pts = data["points"]
    fig = go.Figure()
    for target, name, colour, symbol in (
        (0, tr(lang, "dist.repaid"), theme.BLUE, "circle"),
        (1, tr(lang, "dist.defaulted"), theme.VERMILION, "x"),
    ):
        idx = [i for i, t in enumerate(pts["target"]) if t == target]
        marker: dict[str, object] = {"symbol": symbol, "size": 7, "opacity": 0.75, "color": colour}
        if by_score:
            marker.update(
                color=[pts["probability"][i] for i in idx],
                colorscale="Cividis",
                cmin=0,
                cmax=1,
                showscale=target == 0,
                colorbar={"title": tr(lang, "scatter.by_score"), "tickformat": ".0%"},
            )
        fig.add_scatter(
            x=[pts["x"][i] for i in idx],
            y=[pts["y"][i] for i in idx],
            mode="markers",
            name=name,
            marker=marker,
            hovertemplate=f"{name}<extra></extra>",
        )
    cx, cy = client_xy
    if cx is not None and cy is not None:
        name = tr(lang, "scatter.client")
        fig.add_scatter(
            x=[cx],
            y=[cy],
            mode="markers",
            name=name,
            hovertemplate=f"{name}<extra></extra>",
            marker={
                "symbol": "star",
                "size": 20,
                "color": theme.INK,
                "line": {"color": theme.WHITE, "width": 2},
            },
        )
        fig.add_annotation(
            x=cx,
            y=cy,
            text=name,
            showarrow=True,
            arrowhead=2,
            ax=40,
            ay=-40,
            bgcolor=theme.WHITE,
            bordercolor=theme.INK,
            borderpad=3,
            font={"size": 13},
        )
    fig.update_xaxes(title=x_label)
    fig.update_yaxes(title=y_label)
    return _layout(fig, tr(lang, "scatter.title"), 460, lang)


def neighbors(data: Neighbors, threshold: float, lang: Lang) -> go.Figure:
    """Each similar client's default probability: hatched vermilion if they had difficulties."""
    items = data["items"]
    order = [str(n["client_id"]) for n in items]
    fig = go.Figure()
    for target, key, colour, pattern in (
        (0, "dist.repaid", theme.BLUE, theme.PATTERN_RISK_DOWN),
        (1, "dist.defaulted", theme.VERMILION, theme.PATTERN_RISK_UP),
    ):
        group = [n for n in items if n["target"] == target]
        fig.add_bar(
            x=[str(n["client_id"]) for n in group],
            y=[n["probability"] * 100 for n in group],
            name=tr(lang, key),
            marker={
                "color": colour,
                "pattern": {"shape": pattern, "fgcolor": theme.WHITE, "bgcolor": colour},
                "line": {"color": theme.INK, "width": 1},
            },
            hovertemplate=f"{tr(lang, key)} %{{x}}: %{{y:.1f}}%<extra></extra>",
        )
    fig.add_hline(
        y=threshold * 100,
        line={"color": theme.INK, "dash": "dash", "width": 2},
        annotation_text=f"{tr(lang, 'gauge.threshold')} {pct(threshold, lang)}",
        annotation_position="top left",
    )
    fig.update_xaxes(
        type="category", categoryorder="array", categoryarray=order, title=tr(lang, "col.client")
    )
    top = neighbors_max([n["probability"] for n in items], threshold)
    fig.update_yaxes(
        title=tr(lang, "col.probability"), ticksuffix=_percent_sign(lang), range=[0, top * 100]
    )
    return _layout(fig, tr(lang, "neighbors.title"), 380, lang)


def neighbors_max(probabilities: list[float], threshold: float) -> float:
    """Top of the similar clients' axis: the highest bar or the threshold with a margin for the
    threshold's label, in steps of 10 points, so that 5 % and 12 % bars are not flattened
    against a 100 % axis."""
    top = 1.15 * max([*probabilities, threshold])
    return min(1.0, math.ceil(round(top * 10, 6)) / 10)
