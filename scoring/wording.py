"""The core's words, in English and French: one catalogue for every sentence, label and category
value an advisor reads (resources/wording.json), and Kaggle's column descriptions with their
French versions (resources/column_descriptions*.json).

Reasons, the counterfactual message, class labels, feature and column labels all come from
here; a test checks that both languages have the same keys and no empty text.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Final, Literal

Lang = Literal["en", "fr"]
LANGS: Final[tuple[Lang, ...]] = ("en", "fr")
_DESCRIPTION_FILES: Final[dict[Lang, str]] = {
    "en": "column_descriptions.json",
    "fr": "column_descriptions_fr.json",
}
_VOWELS = frozenset("aeiouyhàâäéèêëîïôöûüÿœæAEIOUYHÀÂÄÉÈÊËÎÏÔÖÛÜŸŒÆ")


def _resource(name: str) -> str:
    return resources.files("scoring.resources").joinpath(name).read_text(encoding="utf-8")


@cache
def catalogue() -> dict[Lang, dict[str, str]]:
    """Every text of the core, by language then key."""
    data: dict[Lang, dict[str, str]] = json.loads(_resource("wording.json"))
    return data


@cache
def descriptions(lang: Lang) -> dict[str, dict[str, str]]:
    """Column descriptions by table then column, in ``lang``."""
    data: dict[str, dict[str, str]] = json.loads(_resource(_DESCRIPTION_FILES[lang]))
    return data


def text(key: str, lang: Lang, **values: object) -> str:
    """The text for ``key`` in ``lang``, with ``values`` filled in; a missing key is a bug."""
    template = catalogue()[lang][key]
    return template.format(**values) if values else template


def _tidy(name: str) -> str:
    words = name.replace("_", " ").strip().lower()
    return words[:1].upper() + words[1:]


def feature_label(feature: str, lang: Lang = "en") -> str:
    """The readable label of a model feature; a tidy version of its name when none is written."""
    return catalogue()[lang].get(f"feature.{feature}") or _tidy(feature)


def column_label(column: str, lang: Lang = "en") -> str:
    """The readable label of a raw application column (the feature's when they share a name)."""
    words = catalogue()[lang]
    return words.get(f"column.{column}") or words.get(f"feature.{column}") or _tidy(column)


def level(column: str, value: str, lang: Lang = "en") -> str:
    """A category value as an advisor says it ("Core staff" -> "Personnel de base")."""
    return catalogue()[lang].get(f"level.{column}.{value}", value)


def column_description(column: str, table: str = "application", lang: Lang = "en") -> str:
    """Kaggle's description of a raw column in ``lang``, or an empty string when it has none."""
    table_descriptions = descriptions(lang).get(table, {})
    # Kaggle's file spells a few keys with a trailing space ("SK_ID_PREV ").
    return table_descriptions.get(column) or table_descriptions.get(f"{column} ", "")


def _source_description(source: str, lang: Lang) -> str:
    table, _, column = source.rpartition(".")
    return column_description(column, table or "application", lang)


def feature_description(feature: str, sources: list[str], lang: Lang = "en") -> str:
    """What a feature is: its column's description, or what it is derived from."""
    if sources == [feature]:
        return column_description(feature, lang=lang)
    described = [d for d in (_source_description(s, lang) for s in sources) if d]
    joined = ", ".join(sources)
    if len(described) == 1:
        return text("description.derived", lang, sources=joined, description=described[0])
    return text("description.derived_many", lang, sources=joined)


def lower_first(label: str) -> str:
    """A label inside a sentence: "Credit amount" -> "credit amount" (acronyms kept)."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def with_article(noun: str, lang: Lang) -> str:
    """The noun with its definite article, elided in French before a vowel or a mute h:
    "l'annuité du prêt", never "le annuité du prêt"."""
    elided = lang == "fr" and noun[:1] in _VOWELS
    return text("article.the_elided" if elided else "article.the", lang, noun=noun)
