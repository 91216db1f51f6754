"""The legacy global fallback: one `global_fallback.yaml` at the root of a config directory.

Before groups and pools carried their own `fallback_config`, one file set fallback for all of
them. Such a directory still loads with the same routing: every group and pool without its own
`fallback_config` inherits the global one, by the rules in `docs/migration.md`, until
`llm-wrappers migrate` writes it into each file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from infrastructure.llm.config.definitions import Definitions
from infrastructure.llm.config.field_path import format_path
from infrastructure.llm.config.references import missing_target
from infrastructure.llm.config.schema import (
    FallbackChain,
    FallbackConfig,
    PollingPoolFallbackConfig,
    StrictModel,
    TaskGroupConfig,
)
from infrastructure.llm.config.strategies import FallbackStrategy
from infrastructure.llm.config.validation import validation_issues
from infrastructure.llm.errors import ConfigIssue

LEGACY_FALLBACK_NAMES = ("global_fallback.yaml", "global_fallback.yml")
# Settings that came after the legacy layout; they exist only in a group's own fallback_config.
_NEWER_FIELDS = ("deadline", "hedging")


class LegacyGlobalFallback(StrictModel):
    """The whole legacy file: group fallback and pool fallback, each applied to every file
    that does not set its own."""

    fallback: FallbackChain = Field(default_factory=FallbackChain)
    polling_pool_fallback: PollingPoolFallbackConfig = Field(
        default_factory=PollingPoolFallbackConfig
    )

    def for_group(self, group: str) -> FallbackConfig:
        """The fallback a group without its own inherits.

        The global `fallback_groups` is a chain: a group named in it falls back only to the
        entries after its own, so the chain never leads back. Where `task_group_switch` has
        nothing left to switch to, the group's first echelon alone is tried.
        """
        chain = self.fallback
        own = [i for i, target in enumerate(chain.targets()) if target.group == group]
        rest = chain.fallback_groups[own[-1] + 1 :] if own else list(chain.fallback_groups)
        update: dict[str, Any] = {"fallback_groups": rest}
        if chain.strategy is FallbackStrategy.TASK_GROUP_SWITCH and not rest:
            update.update(strategy=FallbackStrategy.ECHELON_DOWN, max_attempts=1)
        return FallbackConfig.model_validate({**chain.model_dump(), **update})


def legacy_fallback_files(root: Path) -> list[Path]:
    """The legacy global fallback files present directly in `root`: any entry of that name,
    so that one which is not a regular file is reported when read, not silently ignored."""
    return [root / name for name in LEGACY_FALLBACK_NAMES if os.path.lexists(root / name)]


def parse_legacy_fallback(
    data: dict[str, Any], file: str
) -> tuple[LegacyGlobalFallback | None, list[ConfigIssue]]:
    """The legacy settings (None if invalid) and the issues found, each naming its field."""
    section = data.get("fallback")
    newer = [name for name in _NEWER_FIELDS if isinstance(section, dict) and name in section]
    issues = [
        ConfigIssue(
            file,
            format_path(("fallback", name)),
            f"{name!r} is not part of the legacy global fallback; set it in each group's "
            "own fallback_config after migrating",
        )
        for name in newer
    ]
    if isinstance(section, dict) and newer:
        data = {**data, "fallback": {k: v for k, v in section.items() if k not in newer}}
    try:
        legacy = LegacyGlobalFallback.model_validate(data)
    except ValidationError as error:
        return None, issues + validation_issues(error, file, LegacyGlobalFallback)
    return (None if issues else legacy), issues


def check_legacy_chain(
    legacy: LegacyGlobalFallback, file: str, groups: Definitions[TaskGroupConfig]
) -> list[ConfigIssue]:
    """Chain entries naming missing groups or echelons, and groups named in separate runs."""
    issues: list[ConfigIssue] = []
    last_index: dict[str, int] = {}
    for index, target in enumerate(legacy.fallback.targets()):
        path = format_path(("fallback", "fallback_groups", index))
        problem = missing_target(target, groups)
        if problem:
            issues.append(ConfigIssue(file, path, problem))
        earlier = last_index.get(target.group)
        if earlier is not None and earlier != index - 1:
            issues.append(
                ConfigIssue(
                    file,
                    path,
                    f"group {target.group!r} is also named at fallback_groups[{earlier}], with "
                    "other groups in between; a group's entries must stand together, because "
                    "a group in the chain falls back only to the entries after its own",
                )
            )
        last_index[target.group] = index
    return issues
