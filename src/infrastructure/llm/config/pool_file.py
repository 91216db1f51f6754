"""Parse one polling pool file: `name`, `task_groups`, rotation, health checks and fallback."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from infrastructure.llm.config.schema import PollingPoolConfig
from infrastructure.llm.config.validation import validation_issues
from infrastructure.llm.errors import ConfigIssue


def parse_pool_file(
    data: dict[str, Any], file: str
) -> tuple[str | None, PollingPoolConfig | None, list[ConfigIssue]]:
    """The pool's name (if readable), its config (None if invalid) and the issues found."""
    name = data.get("name") if isinstance(data.get("name"), str) else None
    try:
        return name, PollingPoolConfig.model_validate(data), []
    except ValidationError as error:
        return name, None, validation_issues(error, file, PollingPoolConfig)
