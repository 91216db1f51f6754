"""Parse one task group file: `name`, `description`, `echelon1..N`, `fallback_config`, `cache`."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from infrastructure.llm.config.field_path import Loc
from infrastructure.llm.config.schema import TaskGroupConfig
from infrastructure.llm.config.targets import echelon_name
from infrastructure.llm.config.validation import validation_issues
from infrastructure.llm.errors import ConfigIssue

_ECHELON_KEY = re.compile(r"^echelon(?P<number>[1-9][0-9]*)$")
_PLAIN_FIELDS = tuple(field for field in TaskGroupConfig.model_fields if field != "echelons")
_ALLOWED = ", ".join((*_PLAIN_FIELDS[:2], "echelon1, echelon2, ...", *_PLAIN_FIELDS[2:]))


def parse_group_file(
    data: dict[str, Any], file: str
) -> tuple[str | None, TaskGroupConfig | None, list[ConfigIssue]]:
    """The group's name (if readable), its config (None if invalid) and the issues found."""
    fields: dict[str, Any] = {}
    echelons: dict[int, Any] = {}
    issues: list[ConfigIssue] = []
    for key, value in data.items():
        match = _ECHELON_KEY.match(key) if isinstance(key, str) else None
        if match:
            echelons[int(match["number"])] = value
        elif key in _PLAIN_FIELDS:
            fields[key] = value
        else:
            issues.append(
                ConfigIssue(file, str(key), f"unknown top-level key {key!r}; allowed: {_ALLOWED}")
            )
    name = data.get("name") if isinstance(data.get("name"), str) else None
    try:
        config = TaskGroupConfig.model_validate({**fields, "echelons": echelons})
    except ValidationError as error:
        return name, None, issues + validation_issues(error, file, TaskGroupConfig, _yaml_loc)
    return name, (None if issues else config), issues


def _yaml_loc(loc: Loc) -> Loc:
    """`("echelons", 2, ...)` -> `("echelon2", ...)`; `("echelons",)` is the file as a whole."""
    if loc[:1] != ("echelons",):
        return loc
    if len(loc) == 1:
        return ()
    return (echelon_name(int(loc[1])), *loc[2:])
