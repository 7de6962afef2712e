"""Pure helpers of the What-if page: which raw columns an advisor may edit, how amounts are
typed, and what changed, with the annuity of a loan that could exist.

Lowering the credit amount with the annuity unchanged would simulate a shorter loan nobody
asked for: the annuity is derived from the amount and the term (the client's term, kept, or one
the advisor chooses), as the API's counterfactual search does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Literal

from dashboard.api_client import FeatureInfo, RawField, RawValue
from dashboard.i18n import Lang, grouped

# Never offered for editing, whatever the API flags: the client cannot (or must not) act on them.
PROTECTED = frozenset(
    {"DAYS_BIRTH", "CODE_GENDER", "NAME_FAMILY_STATUS", "CNT_CHILDREN", "CNT_FAM_MEMBERS"}
)
MAX_FIELDS = 8
SHORT_LABEL = 48
_PREFIXES = ("AMT_", "CNT_", "NAME_", "FLAG_")
CREDIT, ANNUITY = "AMT_CREDIT", "AMT_ANNUITY"
TERM = "CREDIT_TERM"  # the page's own input (years), not a raw column
_SPACES = re.compile(r"[\s\u00a0\u202f]")
Widget = Literal["amount", "number"]


def editable_fields(fields: list[RawField], features: list[FeatureInfo]) -> list[RawField]:
    """Numeric raw columns feeding actionable features, most important feature first."""
    by_name = {f["name"]: f for f in fields}
    chosen: list[RawField] = []
    for feature in features:  # the API sorts them by importance
        if not feature["actionable"]:
            continue
        for column in feature["sources"] or [feature["name"]]:
            field = by_name.get(column)
            if field is None or column in PROTECTED or field in chosen:
                continue
            if isinstance(field["value"], bool) or not isinstance(field["value"], int | float):
                continue
            chosen.append(field)
    return chosen[:MAX_FIELDS]


def field_label(field: RawField) -> str:
    """A short, readable label: the API's label, else the description when it is short, else
    the tidied name."""
    label = str(field.get("label") or "").strip()
    if label:
        return label
    description = field["description"].strip().rstrip(".")
    if description and len(description) <= SHORT_LABEL:
        return description[0].upper() + description[1:]
    name = field["name"]
    for prefix in _PREFIXES:
        name = name.removeprefix(prefix)
    return name.replace("_", " ").capitalize()


def is_amount(name: str) -> bool:
    """A sum of money (AMT_REQ_CREDIT_BUREAU_* are counts of enquiries)."""
    return name.startswith("AMT_") and not name.startswith("AMT_REQ_")


def step_for(field: RawField) -> float:
    name, value = field["name"], field["value"]
    if is_amount(name):
        return 1000.0
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return 1.0
    return 0.01


def term_of(fields: list[RawField]) -> float | None:
    """The loan's term in years (credit / annuity) when both are editable, else None: then
    the annuity is not derived and is edited like any amount."""
    values = {f["name"]: f["value"] for f in fields}
    credit, annuity = values.get(CREDIT), values.get(ANNUITY)
    if not isinstance(credit, int | float) or not isinstance(annuity, int | float):
        return None
    if isinstance(credit, bool) or isinstance(annuity, bool) or annuity <= 0 or credit <= 0:
        return None
    return float(credit) / float(annuity)


def shown_term(term: float) -> float:
    """The term as its input shows it: years with one decimal."""
    return round(term, 1)


def term_options(term: float) -> list[float]:
    """The terms an advisor may pick: every half year up to 30 years (or twice the client's
    term), and the client's own term as shown."""
    longest = max(30.0, 2 * shown_term(term))
    halves = [step / 2 for step in range(1, int(longest * 2) + 1)]
    return sorted({*halves, shown_term(term)})


def widget(field: RawField, term: float | None) -> Widget | None:
    """How a field is edited: an amount typed with its separators, a plain number, or not at all
    (the annuity, derived from the amount and the term)."""
    if field["name"] == ANNUITY and term is not None:
        return None
    return "amount" if is_amount(field["name"]) else "number"


def amount_text(value: float, lang: Lang) -> str:
    """An amount as its input shows it: thousands grouped, cents only when there are some."""
    digits = 0 if float(value).is_integer() else 2
    return grouped(float(value), digits, lang)


def parse_amount(text: str, lang: Lang) -> float | None:
    """The amount an advisor typed ("1 107 215,10", "1,107,215.10", "250000 €"), or None."""
    cleaned = _SPACES.sub("", text).replace("€", "")
    if lang == "fr":
        cleaned = (cleaned.replace(".", "") if "," in cleaned else cleaned).replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def changes(fields: list[RawField], values: Mapping[str, float]) -> dict[str, RawValue]:
    """The edited columns only, with their new values."""
    out: dict[str, RawValue] = {}
    for field in fields:
        new = values.get(field["name"])
        old = field["value"]
        if new is None or isinstance(old, str) or old is None:
            continue
        if abs(float(new) - float(old)) > 1e-9:
            out[field["name"]] = int(new) if float(new).is_integer() else float(new)
    return out


def annuity_for(fields: list[RawField], values: Mapping[str, float]) -> float | None:
    """The annuity of the simulated loan: its credit amount over its term, the client's exact
    term while the advisor leaves the term as shown; None when the annuity is not derived."""
    term = term_of(fields)
    if term is None:
        return None
    asked = values.get(TERM, shown_term(term))
    if abs(asked - shown_term(term)) > 1e-9:
        term = asked
    if term <= 0:
        return None
    credit = values.get(CREDIT)
    if credit is None:
        credit = next(float(f["value"] or 0.0) for f in fields if f["name"] == CREDIT)
    return round(float(credit) / term, 2)


def loan_changes(fields: list[RawField], values: Mapping[str, float]) -> dict[str, RawValue]:
    """The edited columns, plus the annuity that follows a new amount or term."""
    out = changes(fields, values)
    annuity = annuity_for(fields, values)
    before = next((f["value"] for f in fields if f["name"] == ANNUITY), None)
    if annuity is not None and isinstance(before, int | float):
        if abs(annuity - float(before)) > 0.005:
            out[ANNUITY] = annuity
        else:
            out.pop(ANNUITY, None)
    return out


def in_range(field: RawField, value: float) -> bool:
    """Whether a value lies in the field's valid range as the API serves it (a field the API
    gives no range accepts any number; the API still checks)."""
    low, high = field.get("valid_min"), field.get("valid_max")
    return (low is None or value >= low) and (high is None or value <= high)


def range_text(field: RawField, lang: Lang) -> str:
    """The field's valid range in words the advisor reads: "1 – 1 000 000 000"."""
    low, high = field.get("valid_min"), field.get("valid_max")
    shown = [amount_text(v, lang) if v is not None else "…" for v in (low, high)]
    return f"{shown[0]} – {shown[1]}"


def bounds(field: RawField) -> tuple[float | None, float | None]:
    low, high = field.get("valid_min"), field.get("valid_max")
    return (None if low is None else float(low)), (None if high is None else float(high))


def clamp(field: RawField, value: float) -> float:
    """The value brought into the field's valid range (a number input cannot start outside)."""
    low, high = bounds(field)
    if low is not None:
        value = max(value, low)
    return min(value, high) if high is not None else value
