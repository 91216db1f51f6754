"""Parse one model registry file: `models: {<name>: {provider: ..., model: ..., ...}, ...}`."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from infrastructure.llm.config.field_path import format_path
from infrastructure.llm.config.schema import ModelConfig
from infrastructure.llm.config.validation import validation_issues
from infrastructure.llm.errors import ConfigIssue

_TOP_LEVEL = "models"


def parse_model_file(
    data: dict[str, Any], file: str
) -> tuple[list[tuple[str, ModelConfig | None]], list[ConfigIssue]]:
    """Each model entry as `(name, config or None if invalid)`, plus the issues found."""
    issues = [
        ConfigIssue(file, str(key), f"unknown top-level key {key!r}; allowed: {_TOP_LEVEL}")
        for key in data
        if key != _TOP_LEVEL
    ]
    entries = data.get(_TOP_LEVEL)
    if not isinstance(entries, dict):
        found = "it is missing" if entries is None else f"got {type(entries).__name__}"
        issues.append(
            ConfigIssue(file, _TOP_LEVEL, f"expected a mapping of model name to settings; {found}")
        )
        return [], issues
    models: list[tuple[str, ModelConfig | None]] = []
    for name, entry in entries.items():
        if not isinstance(name, str) or not name:
            issues.append(
                ConfigIssue(
                    file,
                    format_path((_TOP_LEVEL, str(name))),
                    "model names must be non-empty strings",
                )
            )
            continue
        config, entry_issues = _parse_entry(name, entry, file)
        models.append((name, config))
        issues.extend(entry_issues)
    return models, issues


def _parse_entry(name: str, entry: Any, file: str) -> tuple[ModelConfig | None, list[ConfigIssue]]:
    """Validate one entry; its key is the model's name."""
    if isinstance(entry, dict):
        if entry.get("name", name) != name:
            path = format_path((_TOP_LEVEL, name, "name"))
            return None, [ConfigIssue(file, path, f"differs from its key {name!r}; omit name")]
        entry = {**entry, "name": name}
    try:
        return ModelConfig.model_validate(entry), []
    except ValidationError as error:
        return None, validation_issues(
            error, file, ModelConfig, lambda loc: (_TOP_LEVEL, name, *loc)
        )
