"""What-if: edit what the client can act on and re-score; the smallest change that flips it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, describe, ui, whatif
from dashboard.api_client import ApiError, Counterfactual, Explanation, RawField
from dashboard.i18n import Lang, num, pct, t

client_id, lang = ui.page_header("page.whatif")
st.write(t("whatif.intro"))
before = ui.load(data.explanation, client_id, lang)
fields = whatif.editable_fields(
    ui.load(data.client_record, client_id)["fields"], ui.load(data.features, lang)
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
                    whatif.field_label(field),
                    value=float(field["value"] or 0.0),
                    step=whatif.step_for(field),
                    key=_key(field["name"]),
                    help=field["description"] or None,
                )
        st.form_submit_button(t("whatif.submit"), type="primary", icon=":material/calculate:")
    edits = whatif.changes(fields, values)
    if not edits:
        st.info(t("whatif.unchanged"), icon=":material/edit:")
        return
    try:
        after = data.what_if(client_id, tuple(sorted(edits.items())), lang)
    except ApiError as err:
        if err.status == 422:
            st.warning(t("whatif.invalid", detail=str(err)))
        else:
            ui.show_error(err, client_id, key="whatif")
        return
    delta = (after["probability"] - before["probability"]) * 100
    st.write(
        t(
            "whatif.delta",
            before=pct(before["probability"], lang),
            after=pct(after["probability"], lang),
            delta=f"{delta:+.1f}",
        )
    )
    top = max(before["probability"], after["probability"])  # one scale for both dials
    left, right = st.columns(2, gap="large")
    with left:
        _side(t("whatif.before"), before, "whatif_gauge_before", top)
    with right:
        _side(t("whatif.after"), after, "whatif_gauge_after", top)


def _apply(cf: Counterfactual) -> None:
    for change in cf["changes"]:
        st.session_state[_key(change["column"])] = float(change["after"])


def _value(value: float | str | None) -> str:
    """A counterfactual value: a number, or yes/no for an item such as owning a car."""
    if isinstance(value, str):
        return t("value.yes" if value == "Y" else "value.no")
    return num(value, lang)


def counterfactual() -> None:
    st.subheader(t("cf.title"))
    cf = ui.load(data.counterfactual, client_id, lang)
    if not cf["found"] or not cf["changes"]:
        # nothing reasonable crosses the threshold, or the credit is already granted
        st.info(cf["message"] or t("cf.none"), icon=":material/info:")
        return
    st.write(cf["message"])
    rows = [
        (c["label"][:1].upper() + c["label"][1:], _value(c["before"]), _value(c["after"]))
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
    st.info(t("whatif.none"), icon=":material/info:")
counterfactual()
