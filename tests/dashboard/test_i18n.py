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
    assert i18n.pct(0.4812, "fr") == "48,1 %"
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
