"""Does a Python type (the dashboard's TypedDicts) accept every value a JSON schema (the API's
OpenAPI) allows? Only what a response can carry: objects, arrays, scalars, enums, nullables."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

Schema = dict[str, Any]
SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int, float),  # an int is a valid float for the reader
    "number": (float,),
    "boolean": (bool,),
    "null": (type(None),),
}


class Components:
    def __init__(self, openapi: Schema) -> None:
        self.schemas: dict[str, Schema] = openapi["components"]["schemas"]

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema


def _options(annotation: Any) -> list[Any]:
    """The members of a union (X | Y, Optional[X]), else the annotation itself."""
    if get_origin(annotation) in (Union, types.UnionType):
        return list(get_args(annotation))
    return [annotation]


def _schema_options(schema: Schema, components: Components) -> Iterator[Schema]:
    schema = components.resolve(schema)
    if "anyOf" in schema or "oneOf" in schema:
        for option in schema.get("anyOf", schema.get("oneOf", [])):
            yield from _schema_options(option, components)
    else:
        yield schema


def mismatches(annotation: Any, schema: Schema, components: Components, where: str) -> list[str]:
    """Why `annotation` cannot hold some value `schema` allows ([] when it always can)."""
    problems: list[str] = []
    for option in _schema_options(schema, components):
        found = [_accepts(a, option, components, where) for a in _options(annotation)]
        if all(found_problems for found_problems in found):
            problems.extend(min(found, key=len))
    return problems


def _accepts(annotation: Any, schema: Schema, components: Components, where: str) -> list[str]:
    if annotation is Any:
        return []
    kind = schema.get("type")
    enum = schema.get("enum") or ([schema["const"]] if "const" in schema else None)
    origin = get_origin(annotation)
    if origin is Literal:
        if enum is None:
            return [f"{where}: the API sends any {kind}, the dashboard expects {annotation}"]
        extra = sorted(set(enum) - set(get_args(annotation)))
        return [f"{where}: the API may send {extra}, unknown to the dashboard"] if extra else []
    if typing.is_typeddict(annotation):
        if kind != "object" or "properties" not in schema:
            return [f"{where}: the API sends {kind}, the dashboard expects {annotation.__name__}"]
        return typeddict_mismatches(annotation, schema, components, where)
    if origin is list:
        if kind != "array":
            return [f"{where}: the API sends {kind}, the dashboard expects a list"]
        return mismatches(
            get_args(annotation)[0], schema.get("items", {}), components, where + "[]"
        )
    if origin is dict:
        if kind != "object":
            return [f"{where}: the API sends {kind}, the dashboard expects a mapping"]
        values = schema.get("additionalProperties", {})
        return mismatches(get_args(annotation)[1], values, components, where + "{}")
    accepted = SCALARS.get(str(kind))
    if accepted is None:
        return [f"{where}: the API's schema {schema} is not a type the dashboard can read"]
    if annotation in accepted or (annotation is float and kind == "integer"):
        return []
    return [f"{where}: the API sends {kind}, the dashboard expects {annotation}"]


def typeddict_mismatches(
    shape: type, schema: Schema, components: Components, where: str
) -> list[str]:
    """Every key the dashboard reads exists in the API's object, with a compatible type."""
    schema = components.resolve(schema)
    properties: dict[str, Schema] = schema.get("properties", {})
    required = set(schema.get("required", []))
    problems = []
    for key, annotation in get_type_hints(shape).items():
        path = f"{where}.{key}"
        if key not in properties:
            problems.append(f"{path}: the API's {schema.get('title', 'object')} has no such field")
            continue
        may_be_absent = key not in required and "default" not in properties[key]
        if may_be_absent:
            problems.append(f"{path}: the API may leave it out")
        problems.extend(mismatches(annotation, properties[key], components, path))
    return problems
