"""Expand `${VAR}` and `${VAR:-default}` in the string values of loaded YAML.

`${VAR:-default}` uses the default when VAR is unset or empty (as in the shell); `${VAR}` with
VAR unset is an issue. `$${VAR}` stands for the literal text `${VAR}`. Values taken from the
environment are not expanded again.

The walk is bounded: it stops with an issue past `MAX_NODES` values or `MAX_DEPTH` levels, so
data whose lists and mappings are shared many times over (as YAML aliases make them) or refer to
themselves cannot make it run for long or recurse without end.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from infrastructure.llm.config.field_path import Loc, format_path
from infrastructure.llm.config.limits import (
    MAX_DEPTH,
    MAX_NODES,
    too_deep_message,
    too_many_nodes_message,
)
from infrastructure.llm.errors import ConfigIssue

_PLACEHOLDER = re.compile(
    r"\$(?P<escape>\$?)\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
)


class _TooLarge(Exception):
    """The data is over a limit; the message says which."""


def expand_env(data: Any, env: Mapping[str, str], file: str) -> tuple[Any, list[ConfigIssue]]:
    """Return `data` with placeholders replaced, and an issue per unset variable without default;
    `(None, [issue])` if the data, walked as a tree, is over `MAX_NODES` or `MAX_DEPTH`."""
    issues: list[ConfigIssue] = []
    visited = 0

    def expand(value: Any, loc: Loc) -> Any:
        nonlocal visited
        visited += 1
        if visited > MAX_NODES:
            raise _TooLarge(too_many_nodes_message())
        if len(loc) > MAX_DEPTH:
            raise _TooLarge(too_deep_message())
        if isinstance(value, str):
            text, unset = _expand_text(value, env)
            issues.extend(_unset(file, loc, name) for name in unset)
            return text
        if isinstance(value, dict):
            return {key: expand(item, (*loc, str(key))) for key, item in value.items()}
        if isinstance(value, list):
            return [expand(item, (*loc, index)) for index, item in enumerate(value)]
        return value

    try:
        return expand(data, ()), issues
    except _TooLarge as limit:
        return None, [ConfigIssue(file, "", str(limit))]


def _expand_text(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace every placeholder in one string; also return the unset variables without default."""
    unset: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match["escape"]:
            return match[0][1:]
        value = env.get(match["name"])
        if match["default"] is not None and not value:
            return match["default"]
        if value is None:
            unset.append(match["name"])
            return match[0]
        return value

    return _PLACEHOLDER.sub(replace, text), unset


def _unset(file: str, loc: Loc, name: str) -> ConfigIssue:
    """The issue for a variable that is unset and has no default."""
    return ConfigIssue(
        file,
        format_path(loc),
        f"environment variable {name} is not set and has no default; "
        f"set it, or write ${{{name}:-default}} to give one",
    )
