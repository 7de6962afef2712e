"""The PDF decision summary and the What-if editing helpers."""

from __future__ import annotations

import datetime as dt
import re
import zlib

import pytest

from dashboard import editing, pdf
from tests.dashboard.fake_api import GRANTED_ID, REFUSED_ID, FakeApi

api = FakeApi()


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("client_id", [REFUSED_ID, GRANTED_ID])
def test_decision_summary_is_a_one_page_pdf(lang: str, client_id: int) -> None:
    expl = api.explanation(client_id, lang=lang)
    data = pdf.decision_summary(expl, client_id, lang, today=dt.date(2026, 11, 22))  # type: ignore[arg-type]
    assert data.startswith(b"%PDF-")
    assert b"/Count 1" in data, "one page"
    assert len(data) < 50_000


def test_plain_keeps_french_accents_and_replaces_the_rest() -> None:
    assert pdf.plain("Crédit refusé – « seuil » ≥ 48 %") == "Crédit refusé - « seuil » >= 48 %"
    assert pdf.plain("emoji 🙂") == "emoji ?"


FIELDS = api.client(REFUSED_ID)["fields"]
FEATURES = api.features()


def test_editable_fields_are_numeric_actionable_and_never_protected() -> None:
    names = [f["name"] for f in editing.editable_fields(FIELDS, FEATURES)]
    assert names == ["AMT_ANNUITY", "AMT_CREDIT", "AMT_GOODS_PRICE"]
    assert not set(names) & editing.PROTECTED


def test_protected_columns_stay_locked_even_if_the_api_flags_them() -> None:
    features = [{**f, "actionable": True} for f in FEATURES]
    names = {f["name"] for f in editing.editable_fields(FIELDS, features)}  # type: ignore[arg-type]
    assert "DAYS_BIRTH" not in names
    assert "CODE_GENDER" not in names
    assert "EXT_SOURCE_2" in names
    assert "DAYS_EMPLOYED" in names


def test_labels_and_steps() -> None:
    by_name = {f["name"]: f for f in FIELDS}
    assert editing.field_label(by_name["AMT_ANNUITY"]) == "Loan annuity"
    assert editing.field_label(by_name["DAYS_EMPLOYED"]) == "Days employed"
    long = "For consumer loans it is the price of the goods for which the loan is given"
    field = {"name": "AMT_GOODS_PRICE", "value": 1.0, "description": long}
    assert editing.field_label(field) == "Goods price"  # type: ignore[arg-type]
    assert editing.step_for(by_name["AMT_CREDIT"]) == 1000
    assert editing.step_for(by_name["DAYS_EMPLOYED"]) == 1
    assert editing.step_for(by_name["EXT_SOURCE_2"]) == 0.01


def test_changes_keep_only_edited_columns() -> None:
    fields = editing.editable_fields(FIELDS, FEATURES)
    values = {"AMT_ANNUITY": 24700.5, "AMT_CREDIT": 300000.0, "AMT_GOODS_PRICE": 351000.5}
    assert editing.changes(fields, values) == {"AMT_CREDIT": 300000, "AMT_GOODS_PRICE": 351000.5}
    assert editing.changes(fields, {}) == {}


def test_amounts_are_typed_with_their_separators() -> None:
    assert editing.amount_text(1107215.10, "en") == "1,107,215.10"
    assert editing.amount_text(1107215.10, "fr") == "1\u202f107\u202f215,10"
    assert editing.amount_text(300000.0, "en") == "300,000"
    for text, lang in [
        ("1,107,215.10", "en"),
        ("1 107 215,10", "fr"),
        ("1\u202f107\u202f215,10\u00a0€", "fr"),
        ("1.107.215,10", "fr"),
        ("1107215.10", "fr"),
        ("€1,107,215.10", "en"),
    ]:
        assert editing.parse_amount(text, lang) == pytest.approx(1107215.10), text  # type: ignore[arg-type]
    assert editing.parse_amount("three hundred", "en") is None
    assert editing.parse_amount("inf", "en") is None
    assert not editing.is_amount("AMT_REQ_CREDIT_BUREAU_YEAR")


def test_the_annuity_follows_the_amount_and_the_term() -> None:
    fields = editing.editable_fields(FIELDS, FEATURES)
    term = editing.term_of(fields)
    assert term == pytest.approx(406597.5 / 24700.5)
    by_name = {f["name"]: f for f in fields}
    assert editing.widget(by_name["AMT_ANNUITY"], term) is None, "derived, not typed"
    assert editing.widget(by_name["AMT_CREDIT"], term) == "amount"
    assert editing.widget(by_name["AMT_ANNUITY"], None) == "amount"
    shown = editing.shown_term(term)
    # nothing edited: no change, not even the rounding of the term as shown
    today = {"AMT_CREDIT": 406597.5, "AMT_GOODS_PRICE": 351000.0, editing.TERM: shown}
    assert editing.loan_changes(fields, today) == {}
    # a lower amount over the client's term: the annuity goes down with it
    lower = {**today, "AMT_CREDIT": 300000.0}
    assert editing.loan_changes(fields, lower) == {
        "AMT_CREDIT": 300000,
        "AMT_ANNUITY": round(300000 / term, 2),
    }
    # a term the advisor chose
    longer = {**today, editing.TERM: 20.0}
    assert editing.loan_changes(fields, longer) == {"AMT_ANNUITY": round(406597.5 / 20, 2)}
    assert editing.annuity_for(fields, {**today, editing.TERM: 0.0}) is None


def _pdf_text(data: bytes) -> bytes:
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
    return b"".join(zlib.decompress(s) for s in streams if s[:1] == b"x")


def test_the_pdf_states_the_apis_decision() -> None:
    expl = api.explanation(REFUSED_ID)  # 62 % against a 48 % threshold...
    overridden = {**expl, "decision": "grant"}  # ... granted by the API's own rule
    text = _pdf_text(pdf.decision_summary(overridden, REFUSED_ID, "en"))  # type: ignore[arg-type]
    assert b"Credit granted" in text
    assert b"Credit refused" not in text
    assert b"Credit refused" in _pdf_text(pdf.decision_summary(expl, REFUSED_ID, "en"))


def test_terms_to_pick_include_the_clients_own() -> None:
    options = editing.term_options(406597.5 / 24700.5)
    assert 16.5 in options
    assert options[0] == 0.5
    assert options[-1] == 33.0  # twice the client's term, beyond 30 years
    assert options == sorted(set(options))
    assert 12.3 in editing.term_options(12.3)
