"""What-if: edit what the client can act on and re-score; the smallest change that flips it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cached_api, charts, describe, editing, ui
from dashboard.api_client import ApiError, Counterfactual, Explanation, RawField
from dashboard.i18n import Lang, num, pct, t

client_id, lang = ui.page_header("page.whatif")
st.write(t("editing.intro"))
before = ui.load(cached_api.explanation, client_id, lang)
fields = editing.editable_fields(
    ui.load(cached_api.client_record, client_id)["fields"], ui.load(cached_api.features, lang)
)


def _key(column: str) -> str:
    return f"whatif_{client_id}_{column}"


def _side(title: str, expl: Explanation, key: str, top: float) -> None:
    st.markdown(f"#### {title}")
    ui.decision_card(expl["probability"], expl["threshold"], lang, dom_id=None)
    ui.chart(
        charts.gauge(expl["probability"], expl["threshold"], lang, top_probability=top),
        describe.gauge_alt(expl["probability"], expl["threshold"], lang),
        describe.gauge_table(expl["probability"], expl["threshold"], lang),
        key=key,
    )


@st.fragment
def simulator(fields: list[RawField], lang: Lang) -> None:
    """Only this panel reruns when the advisor re-scores."""
    with st.form("whatif_form", border=True):
        cols = st.columns(2)
        values: dict[str, float] = {}
        for i, field in enumerate(fields):
            with cols[i % 2]:
                values[field["name"]] = st.number_input(
                    editing.field_label(field),
                    value=float(field["value"] or 0.0),
                    step=editing.step_for(field),
                    key=_key(field["name"]),
                    help=field["description"] or None,
                )
        st.form_submit_button(t("editing.submit"), type="primary", icon=":material/calculate:")
    edits = editing.changes(fields, values)
    if not edits:
        st.info(t("editing.unchanged"), icon=":material/edit:")
        return
    try:
        after = cached_api.what_if(client_id, tuple(sorted(edits.items())), lang)
    except ApiError as err:
        if err.status == 422:
            st.warning(t("editing.invalid", detail=str(err)))
        else:
            ui.show_error(err, client_id, key="whatif")
        return
    delta = (after["probability"] - before["probability"]) * 100
    st.write(
        t(
            "editing.delta",
            before=pct(before["probability"], lang),
            after=pct(after["probability"], lang),
            delta=f"{delta:+.1f}",
        )
    )
    top = max(before["probability"], after["probability"])  # one scale for both dials
    left, right = st.columns(2, gap="large")
    with left:
        _side(t("editing.before"), before, "whatif_gauge_before", top)
    with right:
        _side(t("editing.after"), after, "whatif_gauge_after", top)


def _apply(cf: Counterfactual) -> None:
    for change in cf["changes"]:
        st.session_state[_key(change["column"])] = float(change["after"])


def counterfactual() -> None:
    st.subheader(t("cf.title"))
    cf = ui.load(cached_api.counterfactual, client_id, lang)
    if not cf["found"] or not cf["changes"]:
        # nothing reasonable crosses the threshold, or the credit is already granted
        st.info(cf["message"] or t("cf.none"), icon=":material/info:")
        return
    st.write(cf["message"])
    rows = [
        (c["label"][:1].upper() + c["label"][1:], num(c["before"], lang), num(c["after"], lang))
        for c in cf["changes"]
    ]
    table = pd.DataFrame(rows, columns=[t("col.feature"), t("col.now"), t("col.needed")])
    st.table(table.set_index(t("col.feature")))
    if cf["decision_after"] and cf["probability_after"] is not None:
        verdict = t("decision.refuse" if cf["decision_after"] == "refuse" else "decision.grant")
        st.write(t("cf.after", decision=verdict, probability=pct(cf["probability_after"], lang)))
    editable = {f["name"] for f in fields}
    if all(c["column"] in editable for c in cf["changes"]):
        st.button(
            t("cf.apply"),
            key="whatif_apply_cf",
            on_click=_apply,
            args=(cf,),
            icon=":material/content_copy:",
        )


if fields:
    simulator(fields, lang)
else:
    st.info(t("editing.none"), icon=":material/info:")
counterfactual()
