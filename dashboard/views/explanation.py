"""Explanation: the waterfall in probability points, and this client's weights next to the
model's overall ones (external scores merged into one bar, as in the reasons)."""

from __future__ import annotations

import streamlit as st

from dashboard import cached_api, charts, describe, ui
from dashboard.api_client import Importance
from dashboard.i18n import t

client_id, lang = ui.page_header("page.explanation")
expl = ui.load(cached_api.explanation, client_id, lang)
overall = ui.load(cached_api.importance, lang)["items"]

st.write(t("explanation.intro"))
ui.chart(
    charts.waterfall(expl, lang),
    describe.waterfall_alt(expl, lang),
    describe.waterfall_table(expl, lang),
    key="explanation_waterfall",
)

st.subheader(t("importance.compare"))
local, raises = describe.local_weights(expl, lang)
left, right = st.columns(2, gap="large")
with left:
    ui.importance_chart(
        local,
        t("importance.local"),
        t("importance.local_axis"),
        key="explanation_local",
        risk_up=raises,
    )
with right:
    top: list[Importance] = describe.relative(overall)[: len(local) or 10]
    ui.importance_chart(top, t("importance.global"), t("importance.axis"), key="explanation_global")
