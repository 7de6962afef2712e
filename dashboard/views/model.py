"""Model: the model card, threshold and business cost, metrics, fairness, data drift, global
importance."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cached_api, charts, describe, ui
from dashboard.api_client import ApiError
from dashboard.i18n import current_lang, num, pct, t

st.title(t("model.title"))
lang = current_lang()
card = ui.load(cached_api.model)
overall = ui.load(cached_api.importance, lang)["items"]

registry = card.get("registry")
registered = (
    f"{registry['name']} v{registry['version']}"
    + (f" ({', '.join(registry['aliases'])})" if registry["aliases"] else "")
    if registry and registry["version"] is not None
    else t("model.unregistered")
)
st.markdown(
    f"**{t('model.served')}** `{card.get('model', 'lightgbm')}` · **{t('model.version')}** "
    f"`{card['version']}` · **{t('model.registry')}** {registered} · "
    f"**{t('model.trained_at')}** {card['trained_at'][:10]}"
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

comparison = card.get("comparison")
if comparison:
    st.subheader(t("model.comparison"))
    if comparison["baseline"]:
        st.write(
            t(
                "model.beats",
                baseline=comparison["baseline"],
                auc=num(100 * (comparison["auc_gain_over_baseline"] or 0.0), lang, 1),
                cost=num(comparison["cost_saving_over_baseline"] or 0.0, lang, 3),
            )
        )
    else:
        st.write(t("model.is_baseline"))
    if comparison["default"] != comparison["incumbent"]:
        st.write(
            t(
                "model.beats_incumbent",
                incumbent=comparison["incumbent"],
                auc=num(100 * comparison["auc_gain_over_incumbent"], lang, 1),
                cost=num(comparison["cost_saving_over_incumbent"], lang, 3),
            )
        )
    st.caption(comparison["reason"])
    st.table(
        pd.DataFrame(
            [
                {
                    t("col.candidate"): m["model"],
                    t("col.auc"): f"{num(m['auc_mean'], lang, 3)} ± {num(m['auc_std'], lang, 3)}",
                    t("col.cost"): num(m["business_cost"], lang, 3),
                }
                for m in comparison["models"]
            ]
        ).set_index(t("col.candidate"))
    )

fairness = ui.load(cached_api.fairness, lang) if comparison else None
if fairness:
    st.subheader(t("model.fairness"))
    st.caption(t("model.fairness_intro"))
    for attribute in fairness["attributes"]:
        st.markdown(f"**{attribute['label']}**")
        cols = list(st.columns(2))
        for col, key, value in [
            (cols[0], "model.parity", attribute["demographic_parity_difference"]),
            (cols[1], "model.odds", attribute["equalized_odds_difference"]),
        ]:
            col.metric(t(key), "–" if value is None else pct(value, lang))
        rows = [
            {
                t("col.group"): g["group"],
                t("col.count"): num(g["count"], lang),
                t("col.approval"): pct(g["approval_rate"], lang),
                t("col.default_rate"): pct(g["default_rate"], lang),
                t("col.fnr"): "–"
                if g["false_negative_rate"] is None
                else pct(g["false_negative_rate"], lang),
                t("col.fpr"): "–"
                if g["false_positive_rate"] is None
                else pct(g["false_positive_rate"], lang),
            }
            for g in attribute["groups"]
        ]
        st.table(pd.DataFrame(rows).set_index(t("col.group")))
        st.info(attribute["reading"], icon=":material/balance:")
    st.write(fairness["summary"])

st.subheader(t("drift.title"))
try:
    drift = cached_api.drift()
except ApiError:  # an optional section: the rest of the page stands without it
    st.caption(t("drift.error"))
else:
    if drift["status"] == "unavailable":
        st.caption(t("drift.unavailable", message=drift["message"]))
    elif drift["status"] == "insufficient_data":
        st.info(
            t(
                "drift.insufficient",
                rows=drift["window"]["rows"],
                min_rows=drift["window"]["min_rows"],
            ),
            icon=":material/hourglass_empty:",
        )
    else:
        names = [f["feature"] for f in drift["features"]]
        labels = dict(zip(names, ui.feature_labels(names, lang), strict=True))
        line = describe.drift_line(drift, lang)
        if drift["dataset_drift"]:
            st.warning(line, icon=":material/warning:")
        else:
            st.success(line, icon=":material/check_circle:")
        if drift["drifted"]:
            moved = ", ".join(labels.get(name, name) for name in drift["drifted"])
            st.write(t("drift.moved", features=moved))
        ui.chart(
            charts.drift(drift, labels, lang),
            describe.drift_alt(drift, labels, lang),
            describe.drift_table(drift, labels, lang),
            key="model_drift",
        )

ui.importance_chart(
    describe.relative(overall), t("model.importance"), t("importance.axis"), key="model_importance"
)

with st.expander(t("model.libraries"), icon=":material/inventory_2:"):
    versions = pd.DataFrame(
        sorted(card["library_versions"].items()), columns=[t("col.library"), t("col.version")]
    )
    st.table(versions.set_index(t("col.library")))
