"""Comparison: one characteristic for repaid vs defaulted clients, two together, similar clients."""

from __future__ import annotations

import streamlit as st

from dashboard import cached_api, charts, describe, ui
from dashboard.i18n import num, pct, t

client_id, lang = ui.page_header("page.comparison")
expl = ui.load(cached_api.explanation, client_id, lang)
features = ui.load(cached_api.features, lang)
labels = {f["name"]: f["label"] for f in features}
# Category features are stored as level codes: a histogram or an axis of codes means nothing to
# a client, so only numeric characteristics are offered here.
names = [f["name"] for f in features if f["dtype"] != "category"]
top = [c["feature"] for c in expl["contributions"] if c["feature"] in names] or names


def _pick(label: str, key: str, default: str) -> str:
    index = names.index(default) if default in names else 0
    return str(st.selectbox(label, names, index=index, format_func=labels.__getitem__, key=key))


feature = _pick(t("comparison.feature"), "comparison_feature", top[0])
dist = ui.load(cached_api.distribution, feature, client_id, lang)
ui.chart(
    charts.distribution(dist, labels[feature], lang),
    describe.distribution_alt(dist, labels[feature], lang),
    describe.distribution_table(dist, lang),
    key="comparison_distribution",
)

st.subheader(t("scatter.title"))
cols = st.columns(3)
with cols[0]:
    x = _pick(t("scatter.x"), "comparison_x", top[0])
with cols[1]:
    y = _pick(t("scatter.y"), "comparison_y", top[1] if len(top) > 1 else names[-1])
with cols[2]:
    by = st.radio(
        t("scatter.colour"),
        ["outcome", "score"],
        key="comparison_colour",
        horizontal=True,
        format_func=lambda v: t("scatter.by_outcome" if v == "outcome" else "scatter.by_score"),
    )
points = ui.load(cached_api.scatter, x, y)
record = ui.load(cached_api.client_features, client_id)
client_xy = (record.get(x), record.get(y))
ui.chart(
    charts.scatter(points, labels[x], labels[y], client_xy, by == "score", lang),
    describe.scatter_alt(points, labels[x], labels[y], client_xy, lang),
    describe.scatter_table(points, labels[x], labels[y], lang),
    key="comparison_scatter",
)

st.subheader(t("neighbors.title"))
near = ui.load(cached_api.neighbors, client_id)
st.write(t("neighbors.rate", k=num(len(near["items"]), lang), rate=pct(near["default_rate"], lang)))
ui.chart(
    charts.neighbors(near, expl["threshold"], lang),
    describe.neighbors_alt(near, expl["threshold"], lang),
    describe.neighbors_table(near, lang),
    key="comparison_neighbors",
)
