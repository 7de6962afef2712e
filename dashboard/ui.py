"""Widgets every page shares: API errors with a retry, charts with their text alternative and
table, the decision card and the client search."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import cached_api, charts, describe, theme
from dashboard.api_client import (
    ApiAuthError,
    ApiError,
    ApiNotFound,
    ApiRateLimited,
    ApiTimeout,
    ApiUnavailable,
    Decision,
    Importance,
)
from dashboard.describe import decision_words
from dashboard.i18n import Lang, current_lang, t

P = ParamSpec("P")
T = TypeVar("T")

CLIENT_KEY = "client_id"
QUERY_KEY = "client_query"


# --- errors ------------------------------------------------------------------------------------
def error_message(err: ApiError, client_id: int | None = None) -> str:
    """The sentence an advisor reads for each kind of failure (no traceback, ever)."""
    if isinstance(err, ApiTimeout):
        return t("error.timeout")
    if isinstance(err, ApiUnavailable):
        return t("error.unavailable")
    if isinstance(err, ApiRateLimited):
        return t("error.busy")
    if isinstance(err, ApiAuthError):
        return t("error.auth")
    if isinstance(err, ApiNotFound):
        return t("error.not_found", client_id=client_id if client_id is not None else "?")
    return t("error.generic")


def _retry() -> None:
    # Errors are not cached, but a retry after a fix (a restarted API) should see fresh data.
    st.cache_data.clear()


def show_error(err: ApiError, client_id: int | None = None, key: str = "page") -> None:
    st.error(error_message(err, client_id), icon=":material/error:")
    if err.status is not None:
        st.caption(t("error.detail", detail=f"HTTP {err.status}"))
    st.button(t("error.retry"), key=f"retry_{key}", icon=":material/refresh:", on_click=_retry)


def load(
    fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:  # pragma: no branch - both paths tested per page
    """Call ``fn``; on an API error show the message and a retry button, then stop the page."""
    try:
        return fn(*args, **kwargs)
    except ApiError as err:
        client_id = args[0] if args and isinstance(args[0], int) else None
        show_error(err, client_id, key=getattr(fn, "__name__", "page"))
        st.stop()
        raise  # unreachable: st.stop() raises; keeps the type checker honest


# --- charts ------------------------------------------------------------------------------------
def chart(fig: go.Figure, alt: str, table: pd.DataFrame, key: str) -> None:
    """A chart, its text alternative for screen readers, and the same data as a table."""
    st.plotly_chart(
        fig,
        key=key,
        theme=None,
        alt=alt,
        config={"displayModeBar": False},
    )
    with st.expander(t("chart.table"), icon=":material/table:"):
        st.write(alt)
        st.table(table.set_index(table.columns[0]))


def importance_chart(
    items: list[Importance],
    title: str,
    axis: str,
    key: str,
    risk_up: list[bool] | None = None,
) -> None:
    """Weight bars (this client's points, or the model's relative weights) with their text
    alternative and table."""
    lang = current_lang()
    chart(
        charts.bars(
            [i["label"] for i in items],
            [i["importance"] for i in items],
            title,
            axis,
            risk_up=risk_up,
            lang=lang,
        ),
        describe.importance_alt(items, lang),
        describe.importance_table(items, lang, header=axis),
        key=key,
    )


# --- decision ----------------------------------------------------------------------------------
_ICON_GRANT = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="34" height="34" viewBox="0 0 24 24">'
    '<circle cx="12" cy="12" r="11" fill="{c}"/>'
    '<path d="M6.5 12.5l3.5 3.5 7.5-8" stroke="#fff" stroke-width="2.6" fill="none"/></svg>'
)
_ICON_REFER = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="34" height="34" viewBox="0 0 24 24">'
    '<circle cx="12" cy="12" r="11" fill="{c}"/>'
    '<path d="M12 6v8M12 16.5v2" stroke="#fff" stroke-width="2.6"/></svg>'
)
_ICON_REFUSE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="34" height="34" viewBox="0 0 24 24">'
    '<circle cx="12" cy="12" r="11" fill="{c}"/>'
    '<path d="M7.5 7.5l9 9M16.5 7.5l-9 9" stroke="#fff" stroke-width="2.6"/></svg>'
)


def decision_card(
    probability: float,
    threshold: float,
    decision: Decision,
    lang: Lang,
    dom_id: str | None = "decision-card",
    missing: list[str] | None = None,
) -> None:
    """The API's decision in words, with an icon and a colour, and how far from the threshold.
    Never recomputed here: the decision the advisor reads is the one the audit log records."""
    colour, tint, bar, svg = {
        "refuse": (theme.REFUSE_TEXT, theme.REFUSE_TINT, theme.VERMILION, _ICON_REFUSE),
        "refer": (theme.REFER_TEXT, theme.REFER_TINT, theme.REFER_BAR, _ICON_REFER),
    }.get(decision, (theme.GRANT_TEXT, theme.GRANT_TINT, theme.BLUE, _ICON_GRANT))
    # st.html strips inline <svg>; an <img> with a data URI survives (alt="": the words say it).
    svg = svg.format(c=colour)
    icon = (
        f"<img alt='' width='34' height='34' src='data:image/svg+xml;base64,"
        f"{base64.b64encode(svg.encode()).decode()}'/>"
    )
    verdict = describe.verdict(decision, lang)
    # "close" scales with the threshold: 2 points matter more at 10 % than at 50 %
    close = abs(probability - threshold) < min(0.05, 0.2 * threshold)
    note = f"<p style='margin:6px 0 0;font-weight:600'>{t('decision.close')}</p>" if close else ""
    words = decision_words(probability, threshold, lang)
    if decision == "refer":  # too little is known: a person decides, the probability is no verdict
        names = ", ".join(missing or [])
        words, note = t("decision.refer_reason", count=len(missing or []), features=names), ""
    id_attr = f"id='{dom_id}' " if dom_id else ""
    st.html(
        f"<div {id_attr}class='decision-card' role='status' "
        f"data-decision='{html.escape(decision)}' "
        f"style='border:1px solid {bar};border-left:10px solid {bar};background:{tint};"
        f"border-radius:10px;padding:18px 22px;color:{theme.INK}'>"
        f"<div style='display:flex;align-items:center;gap:12px;font-size:1.75rem;"
        f"font-weight:700;color:{colour}'>{icon}<span>{html.escape(verdict)}</span></div>"
        f"<p style='margin:8px 0 0;font-size:1.05rem'>"
        f"{html.escape(words)}</p>{note}</div>"
    )


def reasons(title: str, sentences: list[str], up: bool) -> None:
    """Up to three plain-language reasons, marked by an arrow and words, not colour alone."""
    arrow = "▲" if up else "▼"
    colour = theme.REFUSE_TEXT if up else theme.GRANT_TEXT
    st.markdown(f"#### <span style='color:{colour}'>{arrow}</span> {title}", unsafe_allow_html=True)
    if not sentences:
        st.write(t("reasons.none"))
        return
    items = "".join(f"<li>{html.escape(s).replace('$', '&#36;')}</li>" for s in sentences[:3])
    st.html(f"<ul style='margin:0;padding-left:1.2rem;line-height:1.6'>{items}</ul>")


# --- client search -----------------------------------------------------------------------------
def _from_url() -> None:
    """A deep link (?client_id=123, e.g. from the CRM) pre-fills the search once."""
    wanted = st.query_params.get(CLIENT_KEY, "")
    if QUERY_KEY not in st.session_state and wanted.isdigit():
        st.session_state[QUERY_KEY] = wanted
        st.session_state[CLIENT_KEY] = int(wanted)
        st.session_state["_deep_link"] = wanted


def client_picker() -> None:
    """Typed id or a few digits, searched server-side: never a dropdown of every id."""
    _from_url()
    query = st.sidebar.text_input(
        t("search.label"),
        key=QUERY_KEY,
        placeholder=t("search.placeholder"),
        help=t("search.help"),
    ).strip()
    if not query:
        st.session_state.pop(CLIENT_KEY, None)
        return
    if not query.isdigit():
        st.sidebar.warning(t("search.invalid"))
        st.session_state.pop(CLIENT_KEY, None)
        return
    if st.session_state.get("_deep_link") == query:
        return  # an exact id from a link: the page's own call says whether it exists
    st.session_state.pop("_deep_link", None)
    with st.sidebar:
        try:
            page = cached_api.search_clients(query)
        except ApiError as err:
            show_error(err, key="search")
            return
    _pick(query, page["items"], page["total"])


def _pick(query: str, items: list[int], total: int) -> None:
    if int(query) in items:
        st.session_state[CLIENT_KEY] = int(query)
        return
    if not items:
        st.sidebar.info(t("search.none", query=query))
        st.session_state.pop(CLIENT_KEY, None)
        return
    choice = st.sidebar.radio(t("search.pick"), items, key="client_pick")
    if total > len(items):
        st.sidebar.caption(t("search.more", total=total, shown=len(items)))
    st.session_state[CLIENT_KEY] = choice


def require_client() -> int:
    """The selected client's id, or a hint to search for one (and the page stops)."""
    client_id = st.session_state.get(CLIENT_KEY)
    if client_id is None:
        st.info(t("client.none"), icon=":material/person_search:")
        st.stop()
    return int(client_id)


def page_header(title_key: str) -> tuple[int, Lang]:
    """Every page: its title, then the selected client (or a hint)."""
    st.title(t(title_key))
    client_id = require_client()
    st.caption(t("client.current", client_id=client_id))
    return client_id, current_lang()


def feature_labels(names: list[str], lang: Lang) -> list[str]:
    """The API's labels of some model features (the name itself where the list lacks one)."""
    if not names:
        return []
    labels = {f["name"]: f["label"] for f in load(cached_api.features, lang)}
    return [labels.get(name, name) for name in names]
