"""Pure helpers of the What-if page: which raw columns an advisor may edit, and what changed."""

from __future__ import annotations

from collections.abc import Mapping

from dashboard.api_client import FeatureInfo, RawField, RawValue

# Never offered for editing, whatever the API flags: the client cannot (or must not) act on them.
PROTECTED = frozenset(
    {"DAYS_BIRTH", "CODE_GENDER", "NAME_FAMILY_STATUS", "CNT_CHILDREN", "CNT_FAM_MEMBERS"}
)
MAX_FIELDS = 8
SHORT_LABEL = 48
_PREFIXES = ("AMT_", "CNT_", "NAME_", "FLAG_")


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
    """A short, readable label: the description when it is short, else the tidied name."""
    description = field["description"].strip().rstrip(".")
    if description and len(description) <= SHORT_LABEL:
        return description[0].upper() + description[1:]
    name = field["name"]
    for prefix in _PREFIXES:
        name = name.removeprefix(prefix)
    return name.replace("_", " ").capitalize()


def step_for(field: RawField) -> float:
    name, value = field["name"], field["value"]
    if name.startswith("AMT_"):
        return 1000.0
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return 1.0
    return 0.01


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
