"""Deterministic example values for a JSON schema (tool arguments, structured output)."""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 8
_INTEGER = 3
_NUMBER = 1.5
_STRING_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def example_value(schema: dict[str, Any], text: str | None = None) -> Any:
    """A value valid for `schema`: every property filled, required or not.

    Strings are `text` when given (e.g. a phrase quoted in the prompt), else a short label
    naming the property. `$ref` into `$defs`/`definitions` is followed; for anyOf/oneOf the
    first non-null option is used.
    """
    return _Builder(schema, text).build(schema, "value", 0)


class _Builder:
    """Walks one schema; holds its root so `$ref`s resolve."""

    def __init__(self, root: dict[str, Any], text: str | None) -> None:
        self._root = root
        self._text = text

    def build(self, schema: dict[str, Any], name: str, depth: int) -> Any:
        """Example for `schema`, describing the property `name`."""
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.build(self._first_non_null(schema[key]), name, depth)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolve(part))
            return self.build(merged, name, depth)
        kind = _type_of(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "integer":
            return int(_clamp(schema, _INTEGER, step=1))
        if kind == "number":
            return float(_clamp(schema, _NUMBER, step=0.5))
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema, name)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        """Every declared property (empty past the depth limit, so recursive schemas end)."""
        if depth >= _MAX_DEPTH:
            return {}
        properties: dict[str, Any] = schema.get("properties") or {}
        return {key: self.build(sub, key, depth + 1) for key, sub in properties.items()}

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        """As many items as `minItems` asks, at least one (none past the depth limit)."""
        items = schema.get("items")
        if not isinstance(items, dict) or depth >= _MAX_DEPTH:
            return []
        count = max(1, int(schema.get("minItems", 1)))
        return [self.build(items, name, depth + 1) for _ in range(count)]

    def _string(self, schema: dict[str, Any], name: str) -> str:
        """The prompt phrase, a format-shaped value, or a label; padded/trimmed to length."""
        value = _STRING_FORMATS.get(schema.get("format", "")) or self._text or f"example {name}"
        value = value.ljust(int(schema.get("minLength", 0)), "x")
        if "maxLength" in schema:
            value = value[: int(schema["maxLength"])]
        return value

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow a local `$ref` (`#/$defs/X`, `#/definitions/X`, `#`), keeping sibling keys."""
        seen = 0
        while "$ref" in schema and seen < _MAX_DEPTH:
            target: Any = self._root
            for part in schema["$ref"].lstrip("#").strip("/").split("/"):
                if part:
                    target = target[part.replace("~1", "/").replace("~0", "~")]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
        return schema

    def _first_non_null(self, options: list[dict[str, Any]]) -> dict[str, Any]:
        """The first option that is not `{"type": "null"}` (or null itself if that is all)."""
        for option in options:
            if _type_of(self._resolve(option)) != "null":
                return option
        return options[0] if options else {}


def _type_of(schema: dict[str, Any]) -> str:
    """The schema's type; a type list picks its first non-null entry; untyped is inferred."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        return "object" if "properties" in schema else "string"
    return str(kind)


def _clamp(schema: dict[str, Any], value: float, step: float) -> float:
    """Move `value` inside the schema's numeric (exclusive) minimum/maximum bounds."""
    for key, offset, pick in (
        ("minimum", 0.0, max),
        ("exclusiveMinimum", step, max),
        ("maximum", 0.0, min),
        ("exclusiveMaximum", -step, min),
    ):
        bound = schema.get(key)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            value = pick(value, bound + offset)
    return value
