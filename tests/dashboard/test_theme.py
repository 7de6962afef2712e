"""WCAG 2.1 AA contrast of the theme the app starts with, and of every colour used for text."""

from __future__ import annotations

import pytest

from dashboard import theme

AA_TEXT = 4.5
AA_GRAPHICS = 3.0


def test_contrast_formula_matches_known_values() -> None:
    assert theme.contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert theme.contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert theme.contrast_ratio("#FF4B4B", "#FFFFFF") == pytest.approx(3.30, abs=0.01)
    assert theme.contrast_ratio("#fff", "#000") == pytest.approx(21.0)


def test_the_app_config_sets_an_accessible_light_theme() -> None:
    config = theme.load_theme()
    assert config["base"] == "light"
    text, background = str(config["textColor"]), str(config["backgroundColor"])
    primary, secondary = str(config["primaryColor"]), str(config["secondaryBackgroundColor"])
    assert theme.contrast_ratio(text, background) >= AA_TEXT
    assert theme.contrast_ratio(text, secondary) >= AA_TEXT
    # primary is used for links, focus rings and as the fill of primary buttons (white text)
    assert theme.contrast_ratio(primary, background) >= AA_TEXT
    assert theme.contrast_ratio("#FFFFFF", primary) >= AA_TEXT
    assert theme.contrast_ratio(str(config["linkColor"]), background) >= AA_TEXT


def test_sidebar_text_is_readable() -> None:
    with theme.CONFIG_PATH.open("rb") as handle:
        import tomllib

        sidebar = tomllib.load(handle)["theme"]["sidebar"]
    assert theme.contrast_ratio(sidebar["textColor"], sidebar["backgroundColor"]) >= AA_TEXT


@pytest.mark.parametrize(("name", "pair"), sorted(theme.TEXT_PAIRS.items()))
def test_coloured_text_reaches_aa(name: str, pair: tuple[str, str]) -> None:
    assert theme.contrast_ratio(*pair) >= AA_TEXT, name


@pytest.mark.parametrize("colour", [theme.BLUE, theme.VERMILION, theme.INK])
def test_chart_marks_reach_the_non_text_minimum(colour: str) -> None:
    assert theme.contrast_ratio(colour, "#FFFFFF") >= AA_GRAPHICS


def test_the_two_outcome_colours_are_the_colour_blind_safe_pair() -> None:
    assert (theme.BLUE, theme.VERMILION) == ("#0072B2", "#D55E00")
