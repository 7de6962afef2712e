"""Every page through AppTest with the API faked: success, each API error, no client, FR/EN."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import theme
from dashboard.api_client import (
    ApiAuthError,
    ApiError,
    ApiNotFound,
    ApiRateLimited,
    ApiTimeout,
    ApiUnavailable,
    FeatureInfo,
)
from dashboard.i18n import EN, FR
from tests.dashboard import fake_api as fake_api_module
from tests.dashboard.conftest import AppFactory
from tests.dashboard.fake_api import FRENCH_LABELS, GRANTED_ID, REFUSED_ID, FakeApi

PAGES = ["decision", "explanation", "comparison", "whatif", "model"]
TITLES = {
    "decision": "page.decision",
    "explanation": "page.explanation",
    "comparison": "page.comparison",
    "whatif": "page.whatif",
    "model": "model.title",
}
# The first API call each page makes, so that failing it fails the page.
FIRST_CALL = {
    "decision": "explanation",
    "explanation": "explanation",
    "comparison": "explanation",
    "whatif": "explanation",
    "model": "model",
}
ERRORS: list[tuple[ApiError, str]] = [
    (ApiUnavailable("the API cannot be reached (ConnectError)"), "error.unavailable"),
    (ApiTimeout("the API did not answer in time"), "error.timeout"),
    (ApiAuthError("HTTP 401: invalid API key", 401), "error.auth"),
    (ApiRateLimited("HTTP 429: rate limit exceeded; retry in 12 s", 429), "error.busy"),
    (ApiError("HTTP 500", 500), "error.generic"),
]


def _texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.info, *at.error, *at.warning)]
    parts += [h.proto.body for h in at.get("html")]
    return "\n".join(str(p) for p in parts)


def _charts(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_page_renders_with_a_title_and_accessible_charts(
    open_page: AppFactory, page: str, lang: str
) -> None:
    at = open_page(page, lang=lang)
    _assert_clean(at)
    strings = EN if lang == "en" else FR
    assert at.title[0].value == strings[TITLES[page]]
    for chart in at.get("plotly_chart"):
        assert chart.proto.alt, "every chart has a text alternative"
    # ... and a table with the same data, in an expander under each chart
    assert len(at.table) >= len(at.get("plotly_chart"))


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(("error", "message_key"), ERRORS)
def test_api_errors_show_a_message_and_a_retry_never_a_traceback(
    open_page: AppFactory, fake_api: FakeApi, page: str, error: ApiError, message_key: str
) -> None:
    fake_api.errors[FIRST_CALL[page]] = error
    at = open_page(page)
    _assert_clean(at)
    assert at.error[0].value == EN[message_key]
    retry = [b for b in at.button if b.label == EN["error.retry"]]
    assert retry, "a retry button"
    assert "Traceback" not in _texts(at)

    fake_api.errors.clear()  # the API is back: Retry shows the page
    retry[0].click().run()
    _assert_clean(at)
    assert not at.error


@pytest.mark.parametrize("page", ["decision", "explanation", "comparison", "whatif"])
def test_unknown_client_says_not_found(open_page: AppFactory, page: str) -> None:
    at = open_page(page, client_id=999999)
    _assert_clean(at)
    assert at.error[0].value == EN["error.not_found"].format(client_id=999999)
    assert any(b.label == EN["error.retry"] for b in at.button)


@pytest.mark.parametrize("page", ["decision", "explanation", "comparison", "whatif"])
def test_without_a_client_the_page_says_how_to_find_one(
    open_page: AppFactory, fake_api: FakeApi, page: str
) -> None:
    at = open_page(page, client_id=None)
    _assert_clean(at)
    assert at.info[0].value == EN["client.none"]
    assert sum(fake_api.calls.values()) == 0


def test_decision_refused_in_words_icon_and_colour(open_page: AppFactory) -> None:
    at = open_page("decision")
    card = at.get("html")[0].proto.body
    assert "data-decision='refuse'" in card
    assert EN["decision.refuse"] in card
    assert "<img" in card
    assert "14.0 points above the threshold of 48.0%" in card
    text = _texts(at)
    assert "External score 2 is low (0.26)." in text
    assert "stars* stay literal" not in text, "only the top three reasons"
    assert at.get("download_button")[0].label == EN["pdf.download"]
    gauge = _charts(at)[0]
    assert gauge["data"][0]["value"] == 62.0  # type: ignore[index]


def test_decision_granted_in_french(open_page: AppFactory) -> None:
    at = open_page("decision", client_id=GRANTED_ID, lang="fr")
    card = at.get("html")[0].proto.body
    assert "data-decision='grant'" in card
    assert FR["decision.grant"] in card
    assert "27,0\u00a0points sous le seuil de 48,0\u00a0%" in card


def test_decision_costs_one_api_call_and_is_cached_across_pages(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    at = open_page("decision")
    assert dict(fake_api.calls) == {"explanation": 1}
    at.switch_page("views/explanation.py").run()
    assert fake_api.calls["explanation"] == 1, "cached per client"
    assert fake_api.calls["importance"] == 1


def test_language_switch_translates_the_page(open_page: AppFactory) -> None:
    at = open_page("decision")
    at.session_state["lang"] = "fr"
    at.run()
    assert at.title[0].value == FR["page.decision"]
    assert FR["decision.refuse"] in at.get("html")[0].proto.body


def test_explanation_waterfall_and_local_vs_global(open_page: AppFactory) -> None:
    at = open_page("explanation")
    waterfall, local, overall = _charts(at)
    labels = waterfall["data"][0]["y"]  # type: ignore[index]
    assert labels[0] == "External credit score 2"
    assert labels[-1] == "137 other characteristics"
    assert local["data"][0]["marker"]["pattern"]["shape"][0] == "/"  # type: ignore[index]
    # the model's weights on a plain scale: the most influential is 100 (0.41 mean |SHAP|)
    assert overall["data"][0]["x"][0] == pytest.approx(100)  # type: ignore[index]
    assert overall["data"][0]["x"][1] == pytest.approx(100 * 0.33 / 0.41, abs=0.05)  # type: ignore[index]


def test_comparison_shows_distribution_scatter_and_neighbours(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    at = open_page("comparison")
    _dist, scatter, near = _charts(at)
    assert any(s.get("name") == EN["scatter.client"] for s in scatter["data"])  # type: ignore[union-attr,attr-defined]
    assert {t["name"] for t in near["data"]} == {EN["dist.repaid"], EN["dist.defaulted"]}  # type: ignore[index]
    assert EN["neighbors.rate"].format(k=10, rate="20.0%") in _texts(at)

    at.selectbox(key="comparison_feature").set_value("CREDIT_TERM").run()
    _assert_clean(at)
    assert fake_api.calls["distribution"] == 2
    at.radio(key="comparison_colour").set_value("score").run()
    markers = _charts(at)[1]["data"][0]["marker"]  # type: ignore[index]
    assert markers["colorscale"]  # type: ignore[index]


def test_comparison_in_french_shows_french_labels(open_page: AppFactory, fake_api: FakeApi) -> None:
    at = open_page("comparison", lang="fr")
    _assert_clean(at)
    options = at.selectbox(key="comparison_feature").options
    assert FRENCH_LABELS["EXT_SOURCE_2"] in options
    assert "External credit score 2" not in options
    dist = _charts(at)[0]
    assert dist["layout"]["xaxis"]["title"]["text"] == FRENCH_LABELS["EXT_SOURCE_2"]  # type: ignore[index]
    assert "External credit score 2" not in json.dumps(_charts(at), ensure_ascii=False)
    assert set(fake_api.langs["features"]) == set(fake_api.langs["distribution"]) == {"fr"}


def test_comparison_labels_follow_the_language_switch(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    at = open_page("comparison")
    assert "External credit score 2" in at.selectbox(key="comparison_feature").options
    at.session_state["lang"] = "fr"
    at.run()
    _assert_clean(at)
    assert FRENCH_LABELS["EXT_SOURCE_2"] in at.selectbox(key="comparison_feature").options
    assert fake_api.langs["features"] == ["en", "fr"], "the cache is keyed by language"


def _whatif_keys(at: AppTest, widgets: str) -> set[str]:
    return {str(w.key) for w in getattr(at, widgets) if str(w.key).startswith("whatif_")}


def test_whatif_offers_only_actionable_columns_and_rescores(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    at = open_page("whatif")
    _assert_clean(at)
    # amounts are typed with their separators; the annuity follows the amount and the term
    assert _whatif_keys(at, "text_input") == {
        f"whatif_{REFUSED_ID}_{c}" for c in ("AMT_CREDIT", "AMT_GOODS_PRICE")
    }
    assert _whatif_keys(at, "number_input") == set()
    assert _whatif_keys(at, "select_slider") == {f"whatif_{REFUSED_ID}_CREDIT_TERM"}
    assert at.info[0].value == EN["whatif.unchanged"]

    at.text_input(key=f"whatif_{REFUSED_ID}_AMT_CREDIT").set_value("300,000")
    at.button[0].click().run()  # the form's Re-score button
    _assert_clean(at)
    # a lower amount over the same term: the annuity is derived, not kept
    term = 406597.5 / 24700.5
    assert fake_api.last_changes == {"AMT_CREDIT": 300000, "AMT_ANNUITY": round(300000 / term, 2)}
    assert fake_api.groups["explain_changes"] == [True]
    assert "Default probability 62.0% → 39.0% (-23.0 points)." in _texts(at)
    before, after = _charts(at)
    assert before["data"][0]["gauge"]["axis"]["range"] == after["data"][0]["gauge"]["axis"]["range"]  # type: ignore[index]
    cards = [h.proto.body for h in at.get("html")]
    assert any("data-decision='refuse'" in c for c in cards)
    assert any("data-decision='grant'" in c for c in cards)


def test_whatif_shows_amounts_with_separators_and_currency(open_page: AppFactory) -> None:
    at = open_page("whatif")
    credit = at.text_input(key=f"whatif_{REFUSED_ID}_AMT_CREDIT")
    assert credit.value == "406,597.50"
    assert credit.label == "Credit amount (€)"
    term = at.select_slider(key=f"whatif_{REFUSED_ID}_CREDIT_TERM")
    assert term.value == pytest.approx(16.5)
    assert term.label == EN["whatif.term"]
    assert "16.5" in term.options
    assert "Annuity for this amount and term: €24,701 (today €24,701)." in _texts(at)
    french = open_page("whatif", lang="fr")
    credit = french.text_input(key=f"whatif_{REFUSED_ID}_AMT_CREDIT")
    assert credit.value == "406\u202f597,50"
    assert credit.label == "Montant du crédit (€)"
    assert credit.help == "Montant du crédit", "the French description from GET /v1/clients/{id}"
    assert "16,5" in french.select_slider(key=f"whatif_{REFUSED_ID}_CREDIT_TERM").options
    table = french.table[0]
    assert "Annuité du prêt (suit, même durée)" in str(table.value.index.tolist())
    assert table.value.to_numpy().tolist() == [
        ["406\u202f598\u00a0€", "300\u202f000\u00a0€"],
        ["24\u202f701\u00a0€", "18\u202f224\u00a0€"],
    ]


def test_whatif_a_longer_term_lowers_the_annuity(open_page: AppFactory, fake_api: FakeApi) -> None:
    at = open_page("whatif", lang="fr")
    at.select_slider(key=f"whatif_{REFUSED_ID}_CREDIT_TERM").set_value(20.0)
    at.button[0].click().run()
    _assert_clean(at)
    assert fake_api.last_changes == {"AMT_ANNUITY": round(406597.5 / 20, 2)}
    assert "(+" not in _texts(at)
    assert "Probabilité de défaut 62,0\u00a0% → 39,0\u00a0% (-23,0\u00a0points)." in _texts(at)


def test_whatif_refuses_an_amount_that_is_not_one(open_page: AppFactory, fake_api: FakeApi) -> None:
    at = open_page("whatif")
    at.text_input(key=f"whatif_{REFUSED_ID}_AMT_CREDIT").set_value("three hundred")
    at.button[0].click().run()
    _assert_clean(at)
    assert "Credit amount: “three hundred” is not an amount." in at.warning[0].value
    assert fake_api.calls["explain_changes"] == 0


def test_whatif_counterfactual_can_be_copied_into_the_simulation(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    at = open_page("whatif")
    assert "Lowering the credit amount to 300,000" in _texts(at)
    at.button(key="whatif_apply_cf").click().run()
    assert at.text_input(key=f"whatif_{REFUSED_ID}_AMT_CREDIT").value == "300,000"


def test_whatif_counterfactual_with_a_yes_no_item(open_page: AppFactory, fake_api: FakeApi) -> None:
    fake_api.extra_changes = [
        {
            "column": "FLAG_OWN_CAR",
            "label": "owns a car",
            "before": "N",
            "after": "Y",
            "derived": False,
        }
    ]
    at = open_page("whatif")
    _assert_clean(at)
    table = at.table[0].value
    assert table.loc["Owns a car"].tolist() == ["no", "yes"]
    assert "whatif_apply_cf" not in [b.key for b in at.button]  # not an amount: nothing to copy


def test_whatif_rejected_values_are_explained(open_page: AppFactory, fake_api: FakeApi) -> None:
    at = open_page("whatif")
    # a value inside the served range that the API still refuses (e.g. a cross-field rule)
    message = "HTTP 422: DAYS_EMPLOYED: -20000 is outside the valid range [-9000, 0]"
    fake_api.errors["explain_changes"] = ApiError(message, 422)
    at.text_input(key=f"whatif_{REFUSED_ID}_AMT_CREDIT").set_value("250,000")
    at.button[0].click().run()
    _assert_clean(at)
    assert "DAYS_EMPLOYED: -20000 is outside the valid range" in at.warning[0].value


def test_model_card(open_page: AppFactory) -> None:
    at = open_page("model", client_id=None)
    values = {m.label: m.value for m in at.metric}
    assert values[EN["model.threshold"]] == "48.0%"
    assert values[EN["model.auc"]] == "0.771 ± 0.004"
    assert EN["model.cost"].format(ratio="10") in _texts(at)
    refer = EN["model.refer"].format(
        max_missing=3, top_k=10, features="External credit score 2, Age (days, negative)"
    )
    assert refer in _texts(at)  # the refer policy, with the key features by label


def test_model_page_shows_comparison_registry_and_fairness(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    at = open_page("model", client_id=None)
    _assert_clean(at)
    texts = _texts(at)
    assert "credit-scoring v3 (champion)" in texts
    assert EN["model.beats"].format(baseline="scorecard", auc="1.2", cost="0.020") in texts
    assert EN["model.beats_incumbent"].format(incumbent="lightgbm", auc="0.4", cost="0.011") in (
        texts
    )
    values = {m.label: m.value for m in at.metric}
    assert values[EN["model.parity"]] in {"14.0%", "28.0%"}
    assert [i.value for i in at.info][-2:] == [
        "reading of CODE_GENDER in en",
        "reading of AGE_BAND in en",
    ]
    gender = at.table[1].value  # after the comparison table
    assert gender.loc["F"].tolist() == ["1,000", "74.0%", "7.0%", "30.0%", "26.0%"]
    french = open_page("model", client_id=None, lang="fr")
    _assert_clean(french)
    assert "reading of AGE_BAND in fr" in [i.value for i in french.info]
    assert FR["model.fairness"] in [h.value for h in french.subheader]
    assert fake_api.langs["fairness"] == ["en", "fr"]


def test_model_importance_in_french(open_page: AppFactory, fake_api: FakeApi) -> None:
    at = open_page("model", client_id=None, lang="fr")
    _assert_clean(at)
    bars = _charts(at)[-1]  # the importance chart closes the page (after drift's)
    assert list(bars["data"][0]["y"]) == list(FRENCH_LABELS.values())  # type: ignore[index]
    assert fake_api.langs["importance"] == ["fr"]
    english = open_page("model", client_id=None)
    assert "External credit score 2" in _charts(english)[-1]["data"][0]["y"]  # type: ignore[index]


def test_model_page_shows_drift_in_words_and_a_chart(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    at = open_page("model", client_id=None)
    _assert_clean(at)
    assert EN["drift.title"] in [h.value for h in at.subheader]
    line = EN["drift.none"].format(
        rows="1,200", since="2026-11-20", drifted=2, tested=6, share="33.3%"
    )
    assert line in [s.value for s in at.success]
    moved = EN["drift.moved"].format(features="External credit score 2, Annuity to credit ratio")
    assert moved in _texts(at)
    drift = _charts(at)[0]
    bars = drift["data"][0]  # type: ignore[index]
    assert list(bars["y"][:2]) == ["External credit score 2", "Annuity to credit ratio"]
    assert list(bars["x"][:2]) == [2.5, 2.5]
    assert fake_api.calls["drift"] == 1


def test_model_page_warns_when_the_dataset_drifted_in_french(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    fake_api.drifted = ["EXT_SOURCE_2", "CREDIT_TERM", "DAYS_BIRTH", "AMT_GOODS_PRICE"]
    at = open_page("model", client_id=None, lang="fr")
    _assert_clean(at)
    line = FR["drift.detected"].format(
        rows="1\u202f200", since="20/11/2026", drifted=4, tested=6, share="66,7\u00a0%"
    )
    warnings = [w.value for w in at.warning]
    assert warnings, "a dataset drift is a warning"
    assert warnings[0].startswith(line.split(" : ")[0])
    assert "4 caractéristiques sur 6" in warnings[0]
    assert FRENCH_LABELS["EXT_SOURCE_2"] in _texts(at)


def test_model_page_says_when_drift_has_too_few_applications(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    fake_api.drift_status = "insufficient_data"
    at = open_page("model", client_id=None)
    _assert_clean(at)
    assert EN["drift.insufficient"].format(rows=120, min_rows=500) in [i.value for i in at.info]
    assert len(_charts(at)) == 1  # the importance chart only


def test_model_page_stands_when_drift_fails(open_page: AppFactory, fake_api: FakeApi) -> None:
    fake_api.errors["drift"] = ApiNotFound("HTTP 404: Not Found", 404)  # an older API
    at = open_page("model", client_id=None)
    _assert_clean(at)
    assert EN["drift.error"] in _texts(at)
    assert not at.error  # the rest of the page is shown, with no error banner
    assert EN["model.importance"] in json.dumps(_charts(at)[-1])


def test_explanation_global_importance_in_french(open_page: AppFactory, fake_api: FakeApi) -> None:
    at = open_page("explanation", lang="fr")
    _assert_clean(at)
    overall = _charts(at)[2]
    assert FRENCH_LABELS["EXT_SOURCE_2"] in overall["data"][0]["y"]  # type: ignore[index]
    assert fake_api.langs["importance"] == ["fr"]


# --- the client search in the sidebar ------------------------------------------------------
def test_search_with_a_full_id_selects_the_client(open_page: AppFactory) -> None:
    at = open_page("decision", client_id=None)
    at.sidebar.text_input(key="client_query").set_value(str(GRANTED_ID)).run()
    assert at.session_state["client_id"] == GRANTED_ID
    assert "data-decision='grant'" in at.get("html")[0].proto.body


def test_search_with_digits_lists_matches_not_every_id(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    at = open_page("decision", client_id=None)
    at.sidebar.text_input(key="client_query").set_value("1001").run()
    assert at.sidebar.radio(key="client_pick").options == ["100100", "100101"]
    at.sidebar.radio(key="client_pick").set_value(100101).run()
    assert at.session_state["client_id"] == 100101
    assert fake_api.calls["search_clients"] == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [("12ab", EN["search.invalid"]), ("777", EN["search.none"].format(query="777"))],
)
def test_search_explains_bad_or_empty_queries(
    open_page: AppFactory, query: str, message: str
) -> None:
    at = open_page("decision", client_id=None)
    at.sidebar.text_input(key="client_query").set_value(query).run()
    _assert_clean(at)
    assert message in [e.value for e in (*at.sidebar.warning, *at.sidebar.info)]
    assert at.info[0].value == EN["client.none"]


def test_search_failure_is_shown_in_the_sidebar(open_page: AppFactory, fake_api: FakeApi) -> None:
    fake_api.errors["search_clients"] = ApiAuthError("HTTP 401", 401)
    at = open_page("decision", client_id=None)
    at.sidebar.text_input(key="client_query").set_value("1000").run()
    _assert_clean(at)
    assert at.sidebar.error[0].value == EN["error.auth"]


def test_not_found_error_type_is_mapped(open_page: AppFactory, fake_api: FakeApi) -> None:
    fake_api.errors["explanation"] = ApiNotFound("HTTP 404", 404)
    at = open_page("decision")
    assert at.error[0].value == EN["error.not_found"].format(client_id=REFUSED_ID)
    assert at.caption[-1].value == EN["error.detail"].format(detail="HTTP 404")


def test_comparison_never_offers_category_codes(
    open_page: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    occupation: FeatureInfo = {
        "name": "OCCUPATION_TYPE",
        "label": "Occupation",
        "description": "What kind of occupation does the client have",
        "dtype": "category",
        "sources": ["OCCUPATION_TYPE"],
        "importance": 0.9,
        "actionable": False,
    }
    monkeypatch.setattr(fake_api_module, "FEATURES", [occupation, *fake_api_module.FEATURES])
    at = open_page("comparison")
    _assert_clean(at)
    for key in ("comparison_feature", "comparison_x", "comparison_y"):
        options = at.selectbox(key=key).options
        assert "Occupation" not in options
        assert "External credit score 2" in options


# --- the dashboard shows the API's decision, never its own ---------------------------------
def test_a_decision_is_shown_as_the_api_gives_it(open_page: AppFactory, fake_api: FakeApi) -> None:
    # 62 % is above the 48 % threshold, but this API grants (a rule the dashboard cannot know:
    # an override, a "refer" band, another threshold): the advisor must read the API's answer.
    fake_api.decisions[REFUSED_ID] = "grant"
    at = open_page("decision")
    _assert_clean(at)
    card = at.get("html")[0].proto.body
    assert "data-decision='grant'" in card
    assert EN["decision.grant"] in card
    assert EN["decision.refuse"] not in card
    gauge = _charts(at)[0]
    assert gauge["data"][0]["gauge"]["bar"]["color"] == theme.BLUE  # type: ignore[index]
    assert at.get("plotly_chart")[0].proto.alt.endswith(f"{EN['decision.grant']}.")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_referral_is_shown_with_its_reason(
    open_page: AppFactory, fake_api: FakeApi, lang: str
) -> None:
    # too little information: the API refers the file to a person, whatever the probability
    fake_api.decisions[REFUSED_ID] = "refer"
    at = open_page("decision", lang=lang)
    _assert_clean(at)
    card = at.get("html")[0].proto.body
    words = EN if lang == "en" else FR
    assert "data-decision='refer'" in card
    assert words["decision.refer"] in card
    assert EN["decision.refuse"] not in card
    assert FR["decision.refuse"] not in card
    # the missing key features, by their label in the page's language
    assert ("External credit score 2" if lang == "en" else "Score de crédit externe 2") in card
    gauge = _charts(at)[0]
    assert gauge["data"][0]["gauge"]["bar"]["color"] == theme.REFER_BAR  # type: ignore[index]


def test_whatif_amount_outside_the_valid_range_is_refused_before_the_api(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    at = open_page("whatif")
    at.text_input(key=f"whatif_{REFUSED_ID}_AMT_CREDIT").set_value("-5")
    at.button[0].click().run()
    warnings = " ".join(w.value for w in at.warning)
    assert "outside the valid range 1 – 100,000,000" in warnings
    assert fake_api.calls["explain_changes"] == 0


def test_the_whatif_today_card_is_the_apis_decision(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    fake_api.decisions[REFUSED_ID] = "grant"
    at = open_page("whatif")
    at.text_input(key=f"whatif_{REFUSED_ID}_AMT_CREDIT").set_value("300,000")
    at.button[0].click().run()
    cards = [h.proto.body for h in at.get("html")]
    assert not any("data-decision='refuse'" in c for c in cards)


def test_explanations_and_importance_are_asked_with_the_external_scores_merged(
    open_page: AppFactory, fake_api: FakeApi
) -> None:
    open_page("explanation")
    assert fake_api.groups["explanation"] == [True]
    assert fake_api.groups["importance"] == [True]


def test_whatif_asks_for_french_raw_fields(open_page: AppFactory, fake_api: FakeApi) -> None:
    at = open_page("whatif", lang="fr")
    _assert_clean(at)
    assert fake_api.langs["client"] == ["fr"]
    labels = {w.label for w in at.text_input if str(w.key).startswith("whatif_")}
    assert labels == {"Montant du crédit (€)", "Prix du bien (€)"}
