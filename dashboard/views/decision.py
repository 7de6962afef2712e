"""Decision: grant or refuse, the probability against the threshold, the main reasons."""

from __future__ import annotations

import streamlit as st

from dashboard import cached_api, charts, describe, pdf, ui
from dashboard.i18n import t

client_id, lang = ui.page_header("page.decision")
expl = ui.load(cached_api.explanation, client_id, lang)

left, right = st.columns([3, 2], gap="large")
with left:
    ui.decision_card(
        expl["probability"],
        expl["threshold"],
        expl["decision"],
        lang,
        missing=ui.feature_labels(expl["missing_key_features"], lang),
    )
    st.write("")
    against, for_ = st.columns(2, gap="medium")
    with against:
        ui.reasons(t("reasons.against"), expl["reasons"]["against"], up=True)
    with for_:
        ui.reasons(t("reasons.for"), expl["reasons"]["for"], up=False)
with right:
    ui.chart(
        charts.gauge(expl["probability"], expl["threshold"], expl["decision"], lang),
        describe.gauge_alt(expl["probability"], expl["threshold"], expl["decision"], lang),
        describe.gauge_table(expl["probability"], expl["threshold"], expl["decision"], lang),
        key="decision_gauge",
    )

st.download_button(
    t("pdf.download"),
    data=lambda: pdf.decision_summary(expl, client_id, lang),
    file_name=f"decision-{client_id}-{lang}.pdf",
    mime="application/pdf",
    icon=":material/download:",
    key="decision_pdf",
    on_click="ignore",
    type="primary",
)
st.caption(t("decision.model", version=expl["model_version"]))
