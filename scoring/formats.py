"""Numbers as an advisor reads them, in English or French: "1,107,215" / "1 107 215",
"9.7%" / "9,7 %", amounts with their currency, probability points.

French groups thousands with a narrow no-break space (U+202F) and puts a no-break space (U+00A0)
before "%" and the currency sign, so that "9,7 %" never breaks across two lines.
"""

from __future__ import annotations

import math
from typing import Final

from scoring.wording import Lang, text

THIN: Final = "\u202f"  # narrow no-break space: French thousands separator
NBSP: Final = "\u00a0"  # no-break space: before "%" and "€" in French
MAX_DIGITS: Final = 3  # the most decimals a percentage is shown with to tell two values apart

# Features and raw columns that are sums of money (AMT_REQ_CREDIT_BUREAU_* are counts).
AMOUNTS: Final = frozenset(
    {
        "AMT_INCOME_TOTAL",
        "AMT_CREDIT",
        "AMT_ANNUITY",
        "AMT_GOODS_PRICE",
        "INCOME_PER_PERSON",
        "BUREAU_CREDIT_SUM",
        "BUREAU_DEBT_SUM",
        "BUREAU_OVERDUE_SUM",
        "PREV_AMT_APPLICATION_MEAN",
    }
)


def number(value: float, lang: Lang, digits: int = 0) -> str:
    """``value`` with ``digits`` decimals and grouped thousands."""
    written = f"{value:,.{digits}f}"
    if lang == "fr":
        return written.replace(",", THIN).replace(".", ",")
    return written


def half_up(value: float) -> int:
    """Whole units as people round money: 24,700.50 -> 24,701 (round() would give 24,700)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def amount(value: float, lang: Lang) -> str:
    """A sum of money in whole units with its currency: "€406,598" / "406 598 €"."""
    currency = text("currency", lang)
    whole = number(half_up(value), lang)
    if lang == "fr":
        return f"{whole}{NBSP}{currency}"
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    return f"{sign}{currency}{digits}"


def percent(probability: float, lang: Lang, digits: int = 1) -> str:
    """A probability as a percentage: "9.7%" / "9,7 %"."""
    written = number(probability * 100, lang, digits)
    return f"{written}{NBSP}%" if lang == "fr" else f"{written}%"


def digits_apart(probability: float, threshold: float) -> int | None:
    """The fewest decimals (1 to MAX_DIGITS) that show a probability and its threshold as two
    different percentages, or None when even MAX_DIGITS show the same: then a sentence says
    "just below the threshold" instead of "9.7% (threshold 9.7%)"."""
    for digits in range(1, MAX_DIGITS + 1):
        if round(probability * 100, digits) != round(threshold * 100, digits):
            return digits
    return None


def points(delta: float, lang: Lang) -> str:
    """A change of probability in percentage points, signed: "-0.7 points" / "-0,7 point"
    (French keeps the singular below 2)."""
    rounded = round(delta, 1) or 0.0  # never "-0.0"
    sign = "+" if rounded > 0 else "-" if rounded < 0 else ""
    written = f"{sign}{number(abs(rounded), lang, 1)}"
    if lang == "fr":
        return f"{written}{NBSP}{'points' if abs(rounded) >= 2 else 'point'}"
    return f"{written} points"
