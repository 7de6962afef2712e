"""What-if: edit what the client can act on and re-score; the smallest change that flips it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cached_api, charts, describe, editing, ui
from dashboard.api_client import ApiError, Change, Counterfactual, Explanation, RawField
from dashboard.i18n import Lang, grouped, money, num, pct, points, t

client_id, lang = ui.page_header("page.whatif")
st.write(t("whatif.intro"))
before = ui.load(cached_api.explanation, client_id, lang)
fields = editing.editable_fields(
    ui.load(cached_api.client_record, client_id, lang)["fields"], ui.load(cached_api.features, lang)
)
term = editing.term_of(fields)


def _key(column: str) -> str:
    return f"whatif_{client_id}_{column}"


def _side(title: str, expl: Explanation, key: str, top: float) -> None:
    st.markdown(f"#### {title}")
    decision = expl["decision"]
    ui.decision_card(
        expl["probability"],
        expl["threshold"],
        decision,
        lang,
        dom_id=None,
        missing=ui.feature_labels(expl["missing_key_features"], lang),
    )
    ui.chart(
        charts.gauge(expl["probability"], expl["threshold"], decision, lang, top_probability=top),
        describe.gauge_alt(expl["probability"], expl["threshold"], decision, lang),
        describe.gauge_table(expl["probability"], expl["threshold"], decision, lang),
        key=key,
    )


def _input(field: RawField, kind: editing.Widget) -> float | None:
    """One field's input; an amount the advisor typed wrongly is None (and said so)."""
    label = editing.field_label(field)
    value = float(field["value"] or 0.0)
    if kind == "number":
        # the API's valid range bounds the input: an absurd value cannot even be typed
        low, high = editing.bounds(field)
        return float(
            st.number_input(
                label,
                value=editing.clamp(field, value),
                min_value=low,
                max_value=high,
                step=editing.step_for(field),
                key=_key(field["name"]),
                help=field["description"] or None,
            )
        )
    typed = st.text_input(
        t("whatif.amount", label=label, currency=t("currency")),
        value=editing.amount_text(value, lang),
        key=_key(field["name"]),
        help=field["description"] or None,
    )
    parsed = editing.parse_amount(typed, lang)
    if parsed is None:
        st.warning(t("whatif.amount_invalid", label=label, value=typed))
    elif not editing.in_range(field, parsed):
        st.warning(t("whatif.out_of_range", label=label, range=editing.range_text(field, lang)))
        return None
    return parsed


@st.fragment
def simulator(fields: list[RawField], lang: Lang) -> None:
    """Only this panel reruns when the advisor re-scores."""
    with st.form("whatif_form", border=True):
        cols = st.columns(2)
        values: dict[str, float] = {}
        invalid = False
        shown = [(f, kind) for f in fields if (kind := editing.widget(f, term)) is not None]
        for i, (field, kind) in enumerate(shown):
            with cols[i % 2]:
                value = _input(field, kind)
                invalid = invalid or value is None
                if value is not None:
                    values[field["name"]] = value
        if term is not None:
            with cols[len(shown) % 2]:
                # a slider, not a number input: its numbers are written the language's way
                values[editing.TERM] = float(
                    st.select_slider(
                        t("whatif.term"),
                        options=editing.term_options(term),
                        value=editing.shown_term(term),
                        format_func=lambda years: grouped(years, 1, lang),
                        key=_key(editing.TERM),
                        help=t("whatif.term_help"),
                    )
                )
                annuity = editing.annuity_for(fields, values)
                today = next(f["value"] for f in fields if f["name"] == editing.ANNUITY)
                if annuity is not None and isinstance(today, int | float):
                    st.caption(
                        t("whatif.annuity", annuity=money(annuity, lang), today=money(today, lang))
                    )
        st.form_submit_button(t("whatif.submit"), type="primary", icon=":material/calculate:")
    if invalid:
        return
    edits = editing.loan_changes(fields, values)
    if not edits:
        st.info(t("whatif.unchanged"), icon=":material/edit:")
        return
    try:
        after = cached_api.what_if(client_id, tuple(sorted(edits.items())), lang)
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
            delta=points(delta, lang),
        )
    )
    top = max(before["probability"], after["probability"])  # one scale for both dials
    left, right = st.columns(2, gap="large")
    with left:
        _side(t("whatif.before"), before, "whatif_gauge_before", top)
    with right:
        _side(t("whatif.after"), after, "whatif_gauge_after", top)


def _apply(cf: Counterfactual) -> None:
    """Copy the suggested changes into the inputs; derived ones (the annuity) follow by
    themselves, since the simulation keeps the term too."""
    kinds = {f["name"]: editing.widget(f, term) for f in fields}
    for change in cf["changes"]:
        if change["derived"] or isinstance(change["after"], str):
            continue
        after = float(change["after"])
        shown = editing.amount_text(after, lang) if kinds[change["column"]] == "amount" else after
        st.session_state[_key(change["column"])] = shown


def _cell(column: str, value: float | str | None) -> str:
    if isinstance(value, str):
        return t("value.yes") if value == "Y" else t("value.no") if value == "N" else value
    return money(value, lang) if editing.is_amount(column) else num(value, lang)


def _row(change: Change) -> tuple[str, str, str]:
    label = change["label"][:1].upper() + change["label"][1:]
    if change["derived"]:
        label = t("cf.derived", label=label)
    column = change["column"]
    return label, _cell(column, change["before"]), _cell(column, change["after"])


def counterfactual() -> None:
    st.subheader(t("cf.title"))
    cf = ui.load(cached_api.counterfactual, client_id, lang)
    if not cf["found"] or not cf["changes"]:
        # nothing reasonable crosses the threshold, or the credit is already granted
        st.info(cf["message"] or t("cf.none"), icon=":material/info:")
        return
    st.write(cf["message"])
    rows = [_row(c) for c in cf["changes"]]
    table = pd.DataFrame(rows, columns=[t("col.feature"), t("col.now"), t("col.needed")])
    st.table(table.set_index(t("col.feature")))
    if cf["decision_after"] and cf["probability_after"] is not None:
        verdict = describe.verdict(cf["decision_after"], lang)
        st.write(t("cf.after", decision=verdict, probability=pct(cf["probability_after"], lang)))
    editable = {f["name"] for f in fields if editing.widget(f, term) is not None}
    if all(c["column"] in editable for c in cf["changes"] if not c["derived"]):
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
