"""Chart builders, their text alternatives and their tables, in both languages."""

from __future__ import annotations

import math

import pytest

from dashboard import charts, describe, theme
from tests.dashboard.fake_api import GRANTED_ID, REFUSED_ID, THRESHOLD, FakeApi

api = FakeApi()
EXPL = api.explanation(REFUSED_ID)


def test_gauge_marks_the_threshold_and_the_decision_colour() -> None:
    fig = charts.gauge(0.62, THRESHOLD, "refuse", "en")
    indicator = fig.data[0]
    assert indicator.value == 62.0
    assert indicator.gauge.threshold.value == pytest.approx(48.0)
    assert indicator.gauge.bar.color == theme.VERMILION
    assert charts.gauge(0.21, THRESHOLD, "grant", "fr").data[0].gauge.bar.color == theme.BLUE
    assert "Threshold 48.0%" in fig.layout.annotations[0].text


def test_the_gauge_shows_the_apis_decision_never_its_own() -> None:
    # an API with another rule (a manual override, a "refer" band...) answers grant at 62 %
    assert charts.gauge(0.62, THRESHOLD, "grant", "en").data[0].gauge.bar.color == theme.BLUE
    assert describe.gauge_alt(0.62, THRESHOLD, "grant", "en").endswith("Credit granted.")
    table = describe.gauge_table(0.21, THRESHOLD, "refuse", "en")
    assert table.iloc[2, 1] == "Credit refused"


def test_gauge_text_alternative_and_table() -> None:
    assert describe.gauge_alt(0.62, THRESHOLD, "refuse", "en") == (
        "Gauge of the default probability: 62.0%, against a threshold of 48.0%. Credit refused."
    )
    table = describe.gauge_table(0.21, THRESHOLD, "grant", "fr")
    assert table.iloc[:, 1].tolist() == ["21,0\u00a0%", "48,0\u00a0%", "Crédit accordé"]


@pytest.mark.parametrize(
    ("probability", "expected"),
    [(0.62, "14.0 points above"), (0.21, "27.0 points below"), (0.48, "is at the threshold")],
)
def test_decision_words_say_how_far_from_the_threshold(probability: float, expected: str) -> None:
    assert expected in describe.decision_words(probability, THRESHOLD, "en")


@pytest.mark.parametrize(
    ("probability", "threshold", "lang", "expected"),
    [
        # 9.66% against 9.70% would read "9.7% ... threshold of 9.7%" with one decimal
        (0.0966, 0.0970, "en", "9.66%, is just below the threshold of 9.70%."),
        (0.0974, 0.0970, "en", "9.74%, is just above the threshold of 9.70%."),
        (0.0969999, 0.0970, "fr", "9,7\u00a0%, est juste sous le seuil de 9,7\u00a0%."),
        (0.0940, 0.0970, "en", "9.4%, is 0.3 points below the threshold of 9.7%."),
    ],
)
def test_decision_words_never_read_as_a_contradiction_after_rounding(
    probability: float, threshold: float, lang: str, expected: str
) -> None:
    assert describe.decision_words(probability, threshold, lang).endswith(expected)  # type: ignore[arg-type]


def test_waterfall_adds_up_from_the_average_client_to_this_client_in_points() -> None:
    fig = charts.waterfall(EXPL, "en")
    bar = fig.data[0]
    assert list(bar.y)[-1] == "137 other characteristics"
    average = 100 / (1 + math.exp(-EXPL["base_value"]))
    assert bar.base[0] == pytest.approx(average)  # the average client's probability, in %
    assert bar.base[-1] + bar.x[-1] == pytest.approx(EXPL["probability"] * 100)
    for i in range(1, len(bar.x)):  # each bar starts where the previous one ends
        assert bar.base[i] == pytest.approx(bar.base[i - 1] + bar.x[i - 1])
    # the bars move with the log-odds contributions, in probability points
    shap = [c["shap"] for c in EXPL["contributions"]] + [EXPL["rest"]["shap"]]
    assert [x > 0 for x in bar.x] == [s > 0 for s in shap]
    # colour is never alone: risk-raising bars are hatched
    assert [s == "/" for s in bar.marker.pattern.shape] == [x > 0 for x in bar.x]
    # no number printed over a bar, no log-odds anywhere a person reads
    assert bar.texttemplate is None
    assert bar.text is None
    assert fig.layout.xaxis.title.text == "Default probability"
    assert "log-odds" not in fig.to_json()
    lines = {a.text for a in fig.layout.annotations}
    assert {"Average client", "This client", "Threshold"} <= lines
    threshold_line = next(s for s in fig.layout.shapes if s.line.dash == "dash")
    assert threshold_line.x0 == pytest.approx(THRESHOLD * 100)


def test_waterfall_alternative_and_table() -> None:
    alt = describe.waterfall_alt(EXPL, "en")
    assert alt.startswith("Waterfall chart. From the average client's default probability of 8.3%")
    assert "External credit score 2 +6.1 points (raises the risk)" in alt
    assert "137 other characteristics together add" in alt
    assert alt.endswith("This client's default probability is 62.0%.")
    table = describe.waterfall_table(api.explanation(REFUSED_ID, lang="fr"), "fr")
    assert list(table.columns) == [
        "Caractéristique",
        "Valeur du client",
        "Effet sur la probabilité",
        "Effet",
    ]
    assert table.iloc[0, 1] == "0,26"  # the API's words for the value
    assert table.iloc[0, 2] == "+6,1\u00a0points"
    assert table.iloc[2, 3] == "diminue le risque"
    assert len(table) == len(EXPL["contributions"]) + 1


def test_waterfall_without_rest() -> None:
    expl = {**EXPL, "rest": {"count": 0, "shap": 0.0}}
    assert len(charts.waterfall(expl, "en").data[0].y) == len(EXPL["contributions"])  # type: ignore[arg-type]
    assert len(describe.waterfall_table(expl, "en")) == len(EXPL["contributions"])  # type: ignore[arg-type]


def test_importance_bars_and_description() -> None:
    items = api.importance()["items"]
    fig = charts.bars([i["label"] for i in items], [i["importance"] for i in items], "t", "x")
    assert fig.layout.yaxis.autorange == "reversed"
    assert set(fig.data[0].marker.color) == {theme.BLUE}
    assert describe.importance_alt(items, "en", top=2) == (
        "Bar chart of the 6 most influential characteristics: External credit score 2 (0.41); "
        "Annuity to credit ratio (0.33)."
    )
    assert describe.importance_table(items, "en").shape == (6, 2)


def test_distribution_marks_the_client_and_describes_their_bin() -> None:
    dist = api.distribution("EXT_SOURCE_2", REFUSED_ID)
    fig = charts.distribution(dist, "External credit score 2", "en")
    repaid, defaulted = fig.data
    assert sum(repaid.y) == pytest.approx(100)
    assert sum(defaulted.y) == pytest.approx(100)
    assert defaulted.marker.pattern.shape == "/"
    assert repaid.marker.pattern.shape == ""
    assert fig.layout.shapes[0].x0 == pytest.approx(0.2629)
    alt = describe.distribution_alt(dist, "External credit score 2", "en")
    assert "for 684 clients who repaid and 79 who had payment difficulties" in alt
    assert "falls between 0.20 and 0.30, where 37.5% of clients had payment difficulties" in alt
    table = describe.distribution_table(dist, "en")
    assert table.iloc[2, 0].endswith("◀ This client")
    assert len(table) == 10


def test_distribution_with_missing_client_value() -> None:
    dist = {**api.distribution("EXT_SOURCE_2", REFUSED_ID), "client_value": None}
    assert not charts.distribution(dist, "X", "fr").layout.shapes  # type: ignore[arg-type]
    assert "La valeur de ce client est manquante." in describe.distribution_alt(dist, "X", "fr")  # type: ignore[arg-type]


@pytest.mark.parametrize("by_score", [False, True])
def test_scatter_uses_shapes_for_outcomes_and_highlights_the_client(by_score: bool) -> None:
    data = api.scatter("A", "B")
    fig = charts.scatter(data, "A", "B", (0.3, 0.1), by_score, "en")
    symbols = [t.marker.symbol for t in fig.data]
    assert symbols == ["circle", "x", "star"]
    assert fig.data[2].name == "This client"
    if by_score:
        assert fig.data[0].marker.colorscale is not None
    alt = describe.scatter_alt(data, "A", "B", (0.3, None), "en")
    assert "40 reference clients, A against B: 6 had payment difficulties" in alt
    assert "This client is at 0.30, missing." in alt
    table = describe.scatter_table(data, "A", "B", "fr")
    assert list(table.columns) == ["Issue", "Clients", "A (médiane)", "B (médiane)"]
    assert table["Clients"].sum() == 40


def test_scatter_without_client_position() -> None:
    fig = charts.scatter(api.scatter("A", "B"), "A", "B", (None, 1.0), False, "en")
    assert len(fig.data) == 2


def test_neighbors_chart_table_and_alternative() -> None:
    near = api.neighbors(GRANTED_ID)
    fig = charts.neighbors(near, THRESHOLD, "en")
    assert [t.name for t in fig.data] == ["Repaid", "Payment difficulties"]
    assert fig.data[1].marker.pattern.shape == "/"
    assert list(fig.layout.xaxis.categoryarray) == [str(n["client_id"]) for n in near["items"]]
    assert describe.neighbors_alt(near, THRESHOLD, "en") == (
        "Bar chart of the default probability of the 10 most similar clients; 2 of them had "
        "payment difficulties. Threshold 48.0%."
    )
    table = describe.neighbors_table(near, "fr")
    assert table.iloc[1].tolist() == [
        "300001",
        "0,20",
        "Difficultés de paiement",
        "35,0\u00a0%",
    ]


def test_neighbors_chart_is_scaled_to_its_data() -> None:
    near = api.neighbors(GRANTED_ID)  # probabilities 30 % to 75 %, threshold 48 %
    assert charts.neighbors(near, THRESHOLD, "en").layout.yaxis.range == (0, 90)
    low = {**near, "items": [{**n, "probability": 0.05} for n in near["items"]]}
    assert charts.neighbors(low, 0.097, "en").layout.yaxis.range == (0, 20)  # type: ignore[arg-type]
    assert charts.neighbors_max([0.95], 0.5) == 1.0


@pytest.mark.parametrize(
    ("probability", "threshold", "top"),
    [(0.208, 0.097, 0.3), (0.041, 0.097, 0.2), (0.62, 0.48, 1.0), (0.01, 0.02, 0.1)],
)
def test_gauge_zooms_in_steps_of_ten_points(
    probability: float, threshold: float, top: float
) -> None:
    assert charts.gauge_max(probability, threshold) == pytest.approx(top)
    fig = charts.gauge(probability, threshold, "refuse", "fr")
    assert fig.data[0].gauge.axis.range[1] == pytest.approx(top * 100)
    assert fig.layout.separators == ", "


def test_drift_chart_marks_moved_features_and_the_threshold() -> None:
    summary = FakeApi().drift()
    labels = {"EXT_SOURCE_2": "External score 2"}
    fig = charts.drift(summary, labels, "en")
    bars = fig.data[0]
    assert list(bars.y[:3]) == ["External score 2", "CREDIT_TERM", "DAYS_BIRTH"]
    assert list(bars.x[:3]) == [2.5, 2.5, 0.4]
    assert list(bars.marker.color[:3]) == [theme.VERMILION, theme.VERMILION, theme.BLUE]
    assert fig.layout.shapes[0].x0 == 1.0  # the alert threshold
    table = describe.drift_table(summary, labels, "fr")
    assert table.iloc[0].tolist() == ["External score 2", "wasserstein", "0,2500", "0,10", "oui"]
    assert table.iloc[2, 4] == "non"
    alt = describe.drift_alt(summary, labels, "en")
    assert alt.endswith("Characteristics that moved: External score 2, CREDIT_TERM.")
