"""The core's catalogue: both languages complete, every column, feature and category level
worded, descriptions in French for every Kaggle description."""

from __future__ import annotations

import json
import string
from importlib import resources

import pytest

from scoring import wording
from scoring.aggregates import aggregate_sources
from scoring.features import (
    BINARY_COLUMNS,
    ENGINEERED_SOURCES,
    NOMINAL_COLUMNS,
    PASSTHROUGH_COLUMNS,
    YEARS_FROM_DAYS,
)
from scoring.schema import AUXILIARY_KEYS, CATEGORY_COLUMNS, RAW_COLUMNS

EN, FR = wording.catalogue()["en"], wording.catalogue()["fr"]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys() -> None:
    assert set(EN) == set(FR)
    assert set(wording.catalogue()) == set(wording.LANGS)


@pytest.mark.parametrize("key", sorted(EN))
def test_no_empty_text_and_the_same_placeholders(key: str) -> None:
    assert EN[key].strip()
    assert FR[key].strip()
    assert _fields(EN[key]) == _fields(FR[key])


def test_french_descriptions_cover_every_kaggle_description() -> None:
    english, french = wording.descriptions("en"), wording.descriptions("fr")
    assert set(english) == set(french)
    for table, columns in english.items():
        assert set(columns) == set(french[table]), table
        for column, text in columns.items():
            assert french[table][column].strip(), (table, column)
            assert french[table][column] != text, (table, column)


def test_column_descriptions_in_both_languages() -> None:
    assert wording.column_description("AMT_CREDIT") == "Credit amount of the loan"
    assert wording.column_description("AMT_CREDIT", lang="fr") == "Montant du crédit"
    # Kaggle's file has "SK_ID_PREV " with a trailing space
    assert wording.column_description("SK_ID_PREV", "installments_payments", "fr").startswith(
        "Identifiant du crédit antérieur"
    )
    assert wording.column_description("NOT_A_COLUMN", lang="fr") == ""


def test_feature_descriptions_say_what_a_feature_comes_from() -> None:
    sources = ["AMT_CREDIT", "AMT_INCOME_TOTAL"]
    assert wording.feature_description("AMT_CREDIT", ["AMT_CREDIT"], "fr") == "Montant du crédit"
    assert wording.feature_description("CREDIT_INCOME_RATIO", sources, "fr") == (
        "Calculé à partir de AMT_CREDIT, AMT_INCOME_TOTAL"
    )
    one = wording.feature_description("POS_DPD_MAX", ["POS_CASH_balance.SK_DPD"], "en")
    assert one == (
        "Derived from POS_CASH_balance.SK_DPD: DPD (days past due) during the month of "
        "previous credit"
    )
    french = wording.feature_description("POS_DPD_MAX", ["POS_CASH_balance.SK_DPD"], "fr")
    assert french.startswith("Calculé à partir de POS_CASH_balance.SK_DPD : Jours de retard")


def _all_features() -> set[str]:
    tables = [t for t in AUXILIARY_KEYS if t != "bureau_balance"]
    return {
        *PASSTHROUGH_COLUMNS,
        *NOMINAL_COLUMNS,
        *(name for name, _ in BINARY_COLUMNS.values()),
        *YEARS_FROM_DAYS.values(),
        *ENGINEERED_SOURCES,
        *aggregate_sources(tables),
    }


def test_every_feature_has_a_label_in_both_languages() -> None:
    missing = [f for f in sorted(_all_features()) if f"feature.{f}" not in EN]
    assert not missing
    assert wording.feature_label("CREDIT_TERM_YEARS", "fr") == "Durée du crédit (années)"
    assert wording.feature_label("SOME_NEW_FEATURE") == "Some new feature"


def test_every_raw_column_has_a_label_in_both_languages() -> None:
    for column in RAW_COLUMNS:
        assert f"column.{column}" in EN or f"feature.{column}" in EN, column
    assert wording.column_label("FLAG_OWN_CAR", "fr") == "Possède une voiture"
    assert wording.column_label("AMT_ANNUITY", "fr") == "Annuité du prêt"


def _profile_levels() -> dict[str, list[str]]:
    profile = json.loads(
        resources.files("scoring.resources")
        .joinpath("application_profile.json")
        .read_text(encoding="utf-8")
    )
    return {c["name"]: [lv for lv, _ in c["levels"]] for c in profile["columns"] if c.get("levels")}


def test_every_category_level_is_worded_in_french() -> None:
    levels = _profile_levels()
    assert set(levels) == set(CATEGORY_COLUMNS)
    for column, values in levels.items():
        for value in values:
            assert f"level.{column}.{value}" in FR, (column, value)
    assert wording.level("OCCUPATION_TYPE", "Core staff", "fr") == "Personnel de base"
    assert wording.level("NAME_EDUCATION_TYPE", "Secondary / secondary special", "fr") == (
        "Secondaire / secondaire spécialisé"
    )
    assert wording.level("NAME_INCOME_TYPE", "Working", "fr") == "Salarié"
    assert wording.level("NAME_CONTRACT_TYPE", "Cash loans", "fr") == "Crédit de trésorerie"
    # English keeps the data's words, codes excepted; an unknown level is shown as it is
    assert wording.level("OCCUPATION_TYPE", "Core staff", "en") == "Core staff"
    assert wording.level("CODE_GENDER", "F", "en") == "Female"
    assert wording.level("OCCUPATION_TYPE", "Astronauts", "fr") == "Astronauts"


@pytest.mark.parametrize(
    ("noun", "lang", "expected"),
    [
        ("annuité du prêt", "fr", "l'annuité du prêt"),
        ("historique", "fr", "l'historique"),
        ("montant du crédit", "fr", "le montant du crédit"),
        ("credit amount", "en", "the credit amount"),
        ("income", "en", "the income"),
    ],
)
def test_the_article_is_elided_before_a_vowel(noun: str, lang: wording.Lang, expected: str) -> None:
    assert wording.with_article(noun, lang) == expected


def test_labels_lower_their_first_letter_inside_a_sentence() -> None:
    assert wording.lower_first("Credit amount") == "credit amount"
    assert wording.lower_first("IT staff") == "IT staff"
