"""The files of a drift comparison: drift.json and a self-contained HTML report.

The report needs no network: plotly.js is inlined once (include_plotlyjs=True), so it opens from
a mail attachment or an air-gapped share. It shows the verdict, every feature's test, a chart
of the strongest drifts on one scale (the value relative to its threshold) and, for the drifted
features, reference and current distributions overlaid.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from scoring.drift import TEST_LABELS, DriftReport, FeatureDrift

JSON_FILE = "drift.json"
HTML_FILE = "drift.html"
CHART_FEATURES = 30  # bars in the overview chart
DISTRIBUTION_FEATURES = 12  # drifted features whose distributions are drawn
BLUE, ORANGE, GREY = "#0072B2", "#D55E00", "#9E9E9E"  # colour-blind-safe pair (dashboard's)


def write_drift(
    report: DriftReport,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    out: Path,
    context: dict[str, Any],
) -> list[Path]:
    """Write drift.json (the report and `context`: bundle, input, when) and drift.html."""
    out.mkdir(parents=True, exist_ok=True)
    data = {**context, **report.to_dict()}
    json_path = out / JSON_FILE
    json_path.write_text(
        json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    html_path = out / HTML_FILE
    html_path.write_text(render_html(report, reference, current, context), encoding="utf-8")
    return [json_path, html_path]


def severity_chart(report: DriftReport, top: int = CHART_FEATURES) -> go.Figure:
    """The strongest drifts: each feature's value relative to its threshold (1 = threshold)."""
    tested = [f for f in report.features if f.test != "not_tested"][:top]
    tested = tested[::-1]  # strongest at the top of a horizontal bar chart
    figure = go.Figure(
        go.Bar(
            x=[f.score for f in tested],
            y=[f.feature for f in tested],
            orientation="h",
            marker_color=[ORANGE if f.drifted else BLUE for f in tested],
            hovertext=[_hover(f) for f in tested],
            hoverinfo="text",
        )
    )
    figure.add_vline(x=1.0, line_dash="dash", line_color=GREY)
    figure.update_layout(
        title="Strongest drifts (value relative to its threshold; above 1: drifted)",
        xaxis_title="relative to the threshold",
        height=max(300, 22 * len(tested) + 120),
        margin={"l": 220, "r": 20, "t": 60, "b": 40},
    )
    return figure


def _hover(f: FeatureDrift) -> str:
    value = f.p_value if f.p_value is not None else f.distance
    return f"{f.feature}: {TEST_LABELS[f.test]} {value:.4g} (threshold {f.threshold:g})"


def distribution_chart(name: str, reference: np.ndarray, current: np.ndarray) -> go.Figure:
    """Reference and current values of one feature, as shares (the samples differ in size)."""
    figure = go.Figure()
    both = np.concatenate([reference, current])
    edges = np.histogram_bin_edges(both[np.isfinite(both)], bins=30)
    # the same bins on both sides, else each trace picks its own and the bars do not compare
    bins = {"start": float(edges[0]), "end": float(edges[-1]), "size": float(edges[1] - edges[0])}
    for values, label, colour in [(reference, "reference", BLUE), (current, "current", ORANGE)]:
        finite = values[np.isfinite(values)]
        figure.add_trace(
            go.Histogram(
                x=finite, name=label, histnorm="probability", marker_color=colour, opacity=0.6,
                xbins=bins, autobinx=False,
            )
        )  # fmt: skip
    figure.update_layout(
        barmode="overlay", title=name, height=300, margin={"l": 40, "r": 20, "t": 50, "b": 40}
    )
    return figure


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _rows(report: DriftReport) -> str:
    cells = []
    for f in report.features:
        verdict = "drifted" if f.drifted else ("not tested" if f.test == "not_tested" else "")
        texts = (
            f.feature, f.kind, TEST_LABELS[f.test], _number(f.statistic), _number(f.p_value),
            _number(f.distance), _number(f.threshold), verdict,
            f"{100 * f.missing_reference:.1f} %", f"{100 * f.missing_current:.1f} %",
        )  # fmt: skip
        cells.append("<tr>" + "".join(f"<td>{html.escape(t)}</td>" for t in texts) + "</tr>")
    return "\n".join(cells)


STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;color:#1a1a1a}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .5rem}
th{background:#f3f3f3}.drift{color:#B2182B}.ok{color:#2166AC}"""


def render_html(
    report: DriftReport, reference: pd.DataFrame, current: pd.DataFrame, context: dict[str, Any]
) -> str:
    """One HTML page, plotly.js inlined once, no external resource."""
    verdict = (
        '<p class="drift"><strong>Dataset drift detected</strong>'
        if report.dataset_drift
        else '<p class="ok"><strong>No dataset drift</strong>'
    )
    summary = (
        f"{verdict}: {len(report.drifted)} of {report.tested} "
        f"features drifted ({100 * report.share_drifted:.1f} %; dataset drift from "
        f"{100 * report.drift_share:.0f} %).</p>"
    )
    charts = [severity_chart(report).to_html(full_html=False, include_plotlyjs=True)]
    for name in report.drifted[:DISTRIBUTION_FEATURES]:
        figure = distribution_chart(
            name, reference[name].to_numpy("float64"), current[name].to_numpy("float64")
        )
        charts.append(figure.to_html(full_html=False, include_plotlyjs=False))
    facts = "".join(
        f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in context.items()
    )
    generated = datetime.now(UTC).replace(microsecond=0).isoformat()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Data drift report</title>
<style>{STYLE}</style></head><body>
<h1>Data drift report</h1>
{summary}
<ul>{facts}<li>reference rows: {report.reference_rows}</li>
<li>current rows: {report.current_rows}</li><li>generated: {generated}</li></ul>
<p>Tests: Evidently's defaults (DataDriftPreset): with at most 1000 reference rows,
Kolmogorov-Smirnov, chi-squared or z-test p-values (drifted below 0.05); above, Wasserstein
(normed) or Jensen-Shannon distances (drifted from 0.1). See docs/drift.md.</p>
{"".join(charts)}
<h2>Every feature</h2>
<table><thead><tr><th>feature</th><th>kind</th><th>test</th><th>statistic</th><th>p-value</th>
<th>distance</th><th>threshold</th><th>drift</th><th>missing (reference)</th>
<th>missing (current)</th></tr></thead>
<tbody>
{_rows(report)}
</tbody></table>
</body></html>
"""
