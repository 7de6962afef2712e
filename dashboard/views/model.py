"""Model: the model card, threshold and business cost, metrics, global importance."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cached_api, describe, ui
from dashboard.i18n import current_lang, num, pct, t

st.title(t("model.title"))
lang = current_lang()
card = ui.load(cached_api.model)
overall = ui.load(cached_api.importance, lang)["items"]

st.markdown(
    f"**{t('model.version')}** `{card['version']}` · **{t('model.trained_at')}** "
    f"{card['trained_at'][:10]}"
)
metrics = card["metrics"]
cols = list(st.columns(3))
cols[0].metric(t("model.threshold"), pct(card["threshold"], lang), help=t("model.threshold_help"))
cols[1].metric(t("model.cost_value"), num(metrics["business_cost"], lang, 3))
cols[2].metric(t("model.cost_accept_all"), num(metrics["business_cost_accept_all"], lang, 3))
ratio = card["cost"]["fn"] / card["cost"]["fp"] if card["cost"]["fp"] else card["cost"]["fn"]
st.info(t("model.cost", ratio=num(ratio, lang, digits=1)), icon=":material/balance:")
refer = card["refer"]
st.info(
    t(
        "model.refer",
        max_missing=refer["max_missing"],
        top_k=refer["top_k"],
        features=", ".join(ui.feature_labels(refer["features"], lang)),
    ),
    icon=":material/support_agent:",
)

cols = list(st.columns(4))
auc = f"{num(metrics['auc'], lang, 3)} ± {num(metrics['auc_std'], lang, 3)}"
cols[0].metric(t("model.auc"), auc)
cols[1].metric(t("model.recall"), pct(metrics["recall"], lang))
cols[2].metric(t("model.precision"), pct(metrics["precision"], lang))
cols[3].metric(t("model.brier"), num(metrics["brier"], lang, 3))
d = card["data"]
st.write(
    t(
        "model.data",
        rows=num(d["rows"], lang),
        rate=pct(d["default_rate"], lang),
        features=num(d["features"], lang),
    )
)

ui.importance_chart(
    describe.relative(overall), t("model.importance"), t("importance.axis"), key="model_importance"
)

with st.expander(t("model.libraries"), icon=":material/inventory_2:"):
    versions = pd.DataFrame(
        sorted(card["library_versions"].items()), columns=[t("col.library"), t("col.version")]
    )
    st.table(versions.set_index(t("col.library")))
