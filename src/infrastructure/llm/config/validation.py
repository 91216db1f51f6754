"""Turn a pydantic ValidationError into ConfigIssues: field path plus what was expected.

Input values are quoted only when they are scalars outside secret-like fields, so a message can
never echo an API key or a mapping that holds one.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from infrastructure.llm.config.field_path import Loc, format_path
from infrastructure.llm.errors import ConfigIssue

_SECRET_FIELD = re.compile(r"(^|_)(key|secret|password|token|authorization)$", re.IGNORECASE)
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}
_MAPPING_TYPES = frozenset({"model_type", "dict_type", "model_attributes_type"})
_OWN_MESSAGES = frozenset({"value_error", "config", "bool_for_number"})


def validation_issues(
    error: ValidationError,
    file: str,
    model: type[BaseModel],
    yaml_loc: Callable[[Loc], Loc] = lambda loc: loc,
) -> list[ConfigIssue]:
    """One issue per error; `yaml_loc` maps a model location to where it sits in the file."""
    return [
        ConfigIssue(file, format_path(yaml_loc(tuple(detail["loc"]))), _message(detail, model))
        for detail in error.errors(include_url=False)
    ]


def _message(detail: ErrorDetails, model: type[BaseModel]) -> str:
    """Say what was wrong and what was expected."""
    kind, loc, ctx = detail["type"], tuple(detail["loc"]), detail.get("ctx", {})
    got = _describe(detail["input"], hidden=any(_is_secret(part) for part in loc))
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        listing = f"; allowed fields: {', '.join(allowed)}" if allowed else ""
        return f"unknown field {loc[-1]!r}{listing}"
    if kind in _BOUNDS:
        key, operator = _BOUNDS[kind]
        limit = ctx[key]
        shown = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
        return f"expected a number {operator} {shown}, got {got}"
    if kind in ("literal_error", "enum"):
        return f"unknown value {got}; expected one of {ctx['expected']}"
    if kind == "too_short":
        return f"expected at least {ctx['min_length']} item(s), got {ctx['actual_length']}"
    if kind == "string_too_short":
        minimum = ctx["min_length"]
        return "expected a non-empty string" if minimum == 1 else f"expected {minimum}+ characters"
    if kind in _MAPPING_TYPES:
        return f"expected a mapping, got {got}"
    if kind in _OWN_MESSAGES:
        return detail["msg"].removeprefix("Value error, ")
    return f"{detail['msg'].replace('Input should be', 'expected')}, got {got}"


def _is_secret(part: str | int) -> bool:
    """Whether a location part names a field whose value must never be shown."""
    return isinstance(part, str) and _SECRET_FIELD.search(part) is not None


def _describe(value: Any, *, hidden: bool) -> str:
    """A short, safe rendering of an input value: scalars quoted, containers only named."""
    if hidden:
        return "a value that is not shown (secret field)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model found by following `loc` from `model`, or [] if none is there."""
    current: Any = model
    for part in loc:
        current = _without_none(current)
        if _is_model(current):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) in (dict, list):
            current = get_args(current)[-1]
        else:
            return []
    current = _without_none(current)
    return list(current.model_fields) if _is_model(current) else []


def _without_none(annotation: Any) -> Any:
    """`X | None` -> `X`; anything else unchanged."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    """Whether an annotation is a pydantic model class."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
