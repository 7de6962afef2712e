"""Numbers as each language writes them: thousands, decimals, percentages, amounts, points."""

from __future__ import annotations

import pytest

from scoring.formats import amount, digits_apart, number, percent, points

THIN, NBSP = "\u202f", "\u00a0"


def test_numbers_group_thousands_and_use_the_decimal_comma_in_french() -> None:
    assert number(1107215.1, "en", 2) == "1,107,215.10"
    assert number(1107215.1, "fr", 2) == f"1{THIN}107{THIN}215,10"
    assert number(-3.14159, "fr", 2) == "-3,14"


def test_amounts_carry_the_currency_in_whole_units() -> None:
    assert amount(1107215.1, "en") == "€1,107,215"
    assert amount(1107215.1, "fr") == f"1{THIN}107{THIN}215{NBSP}€"
    assert amount(-2500, "en") == "-€2,500"


def test_percentages() -> None:
    assert percent(0.097, "en") == "9.7%"
    assert percent(0.097, "fr") == f"9,7{NBSP}%"
    assert percent(0.09666, "fr", 2) == f"9,67{NBSP}%"


@pytest.mark.parametrize(
    ("delta", "lang", "expected"),
    [
        (-0.7, "fr", f"-0,7{NBSP}point"),
        (-1.96, "fr", f"-2,0{NBSP}points"),
        (23.04, "fr", f"+23,0{NBSP}points"),
        (-0.7, "en", "-0.7 points"),
        (-0.01, "en", "0.0 points"),
    ],
)
def test_points(delta: float, lang: str, expected: str) -> None:
    assert points(delta, lang) == expected  # type: ignore[arg-type]


def test_enough_digits_to_tell_a_probability_from_its_threshold() -> None:
    assert digits_apart(0.30, 0.097) == 1
    assert digits_apart(0.0966, 0.0970) == 2  # 9.7% and 9.7% at one decimal
    assert digits_apart(0.09699, 0.0970) == 3
    assert digits_apart(0.0969999, 0.0970) is None  # "just below"
