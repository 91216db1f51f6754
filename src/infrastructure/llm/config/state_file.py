"""Parse `state.yaml`, the optional file at the root of a config directory that says where
limits, breakers, cool-downs and health live: this process, or a Redis shared by replicas."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from infrastructure.llm.config.extras import missing_extra
from infrastructure.llm.config.schema import StateConfig
from infrastructure.llm.config.validation import validation_issues
from infrastructure.llm.errors import ConfigIssue
from infrastructure.llm.redaction import remember

STATE_FILE_NAMES = ("state.yaml", "state.yml")


def state_files(root: Path) -> list[Path]:
    """The state files present directly in `root`: any entry of that name, so that one which
    is not a regular file is reported when read, not silently ignored."""
    return [root / name for name in STATE_FILE_NAMES if os.path.lexists(root / name)]


def parse_state_file(
    data: dict[str, Any], file: str
) -> tuple[StateConfig | None, list[ConfigIssue]]:
    """The state settings (None if invalid) and the issues found, each naming its field."""
    try:
        config = StateConfig.model_validate(data)
    except ValidationError as error:
        return None, validation_issues(error, file, StateConfig)
    if config.url is not None:
        remember(urlsplit(config.url.get_secret_value()).password)
    missing = missing_extra("redis", "redis", "backend 'redis'")
    if config.backend == "redis" and missing:
        return None, [ConfigIssue(file, "backend", missing)]
    return config, []
