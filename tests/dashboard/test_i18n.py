"""Both languages say everything, with the same placeholders; numbers read naturally in each."""

from __future__ import annotations

import string

import pytest

from dashboard import i18n


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_english_and_french_have_the_same_keys() -> None:
    assert set(i18n.EN) == set(i18n.FR)


@pytest.mark.parametrize("key", sorted(i18n.EN))
def test_placeholders_match(key: str) -> None:
    assert _fields(i18n.EN[key]) == _fields(i18n.FR[key])
    assert i18n.FR[key].strip()


def test_numbers_and_percentages() -> None:
    assert i18n.pct(0.4812, "en") == "48.1%"
    assert i18n.pct(0.4812, "fr") == "48,1\u00a0%"  # a no-break space: never "48,1" / "%"
    assert i18n.num(406597.5, "en") == "406,597.50"
    assert i18n.num(406597.5, "fr") == "406\u202f597,50"
    assert i18n.num(300000.0, "en") == "300,000"
    assert i18n.num(None, "fr") == "manquante"


def test_default_language_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_LANG", "FR")
    assert i18n.default_lang() == "fr"
    monkeypatch.setenv("DASHBOARD_LANG", "de")
    assert i18n.default_lang() == "en"


def test_tr_fills_values() -> None:
    assert i18n.tr("fr", "client.current", client_id=7) == "Client 7"


@pytest.mark.parametrize("key", sorted(i18n.EN))
def test_no_empty_text_in_english(key: str) -> None:
    assert i18n.EN[key].strip()


def test_amounts_carry_the_currency_and_round_half_up() -> None:
    assert i18n.money(1107215.10, "en") == "€1,107,215"
    assert i18n.money(1107215.10, "fr") == "1\u202f107\u202f215\u00a0€"
    assert i18n.money(24700.5, "en") == "€24,701"
    assert i18n.money(-2500, "en") == "-€2,500"
    assert i18n.money(None, "en") == "missing"


def test_the_dashboard_and_the_core_write_the_same_currency() -> None:
    from scoring.wording import text  # the tests may look at both apps

    assert i18n.tr("en", "currency") == text("currency", "en")
    assert i18n.tr("fr", "currency") == text("currency", "fr")


@pytest.mark.parametrize(
    ("delta", "lang", "expected"),
    [
        (-0.7, "fr", "-0,7\u00a0point"),
        (-23.04, "fr", "-23,0\u00a0points"),
        (-23.04, "en", "-23.0 points"),
        (0.04, "en", "0.0 points"),
    ],
)
def test_points(delta: float, lang: i18n.Lang, expected: str) -> None:
    assert i18n.points(delta, lang) == expected


def test_a_probability_and_its_threshold_are_shown_apart() -> None:
    assert i18n.pct_pair(0.62, 0.48, "en") == ("62.0%", "48.0%", True)
    assert i18n.pct_pair(0.0966, 0.0970, "fr") == ("9,66\u00a0%", "9,70\u00a0%", True)
    assert i18n.pct_pair(0.0969999, 0.0970, "en") == ("9.7%", "9.7%", False)
