"""Load the LLM configuration from YAML files into one validated LLMConfig.

A config directory holds `models/*.yaml` (the model registry), `groups/*.yaml` (one task group
per file) and, optionally, `polling_pools/*.yaml` (one polling pool per file). Every issue in
every file is collected; if there is any, ConfigError lists them all and nothing is returned, so
a configuration is either wholly valid or not loaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from infrastructure.llm.config.definitions import Definitions
from infrastructure.llm.config.env import expand_env
from infrastructure.llm.config.field_path import format_path
from infrastructure.llm.config.group_file import parse_group_file
from infrastructure.llm.config.model_file import parse_model_file
from infrastructure.llm.config.pool_file import parse_pool_file
from infrastructure.llm.config.references import check_pool_references, check_references
from infrastructure.llm.config.schema import (
    LLMConfig,
    ModelConfig,
    PollingPoolConfig,
    TaskGroupConfig,
)
from infrastructure.llm.config.yaml_reader import read_yaml_mapping
from infrastructure.llm.errors import ConfigError, ConfigIssue

MODELS_DIR = "models"
GROUPS_DIR = "groups"
POOLS_DIR = "polling_pools"
_YAML_SUFFIXES = frozenset({".yaml", ".yml"})

T = TypeVar("T")
NamedFileParser = Callable[[dict[str, Any], str], tuple[str | None, T | None, list[ConfigIssue]]]


def load_config_dir(path: str | Path, env: Mapping[str, str] | None = None) -> LLMConfig:
    """Load `<path>/models/*.yaml`, `<path>/groups/*.yaml` and `<path>/polling_pools/*.yaml`
    (optional); `env` defaults to os.environ."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError([ConfigIssue(str(root), "", "configuration directory not found")])
    if not any((root / name).is_dir() for name in (MODELS_DIR, GROUPS_DIR)):
        raise ConfigError(
            [
                ConfigIssue(
                    str(root),
                    "",
                    f"expected a {MODELS_DIR}/ and a {GROUPS_DIR}/ subdirectory; found neither",
                )
            ]
        )
    return load_config_files(
        model_files=_yaml_files(root / MODELS_DIR),
        group_files=_yaml_files(root / GROUPS_DIR),
        pool_files=_yaml_files(root / POOLS_DIR),
        env=env,
        source_dir=root,
    )


def load_config_files(
    model_files: Iterable[str | Path] = (),
    group_files: Iterable[str | Path] = (),
    pool_files: Iterable[str | Path] = (),
    env: Mapping[str, str] | None = None,
    source_dir: Path | None = None,
) -> LLMConfig:
    """Load the given registry, group and pool files; raise ConfigError listing every issue."""
    environ = os.environ if env is None else env
    issues: list[ConfigIssue] = []
    models: Definitions[ModelConfig] = Definitions("model")
    groups: Definitions[TaskGroupConfig] = Definitions("group")
    pools: Definitions[PollingPoolConfig] = Definitions("pool")
    for path in map(Path, model_files):
        data, read_issues = _read(path, environ)
        issues.extend(read_issues)
        if data is not None:
            entries, parse_issues = parse_model_file(data, str(path))
            issues.extend(_not_caused_by(parse_issues, read_issues))
            for name, model in entries:
                duplicate = models.add(name, model, str(path), format_path((MODELS_DIR, name)))
                if duplicate:
                    issues.append(duplicate)
    issues.extend(_load_named(group_files, parse_group_file, groups, environ))
    issues.extend(_load_named(pool_files, parse_pool_file, pools, environ))
    issues.extend(check_references(models, groups))
    issues.extend(check_pool_references(pools, groups))
    if issues:
        raise ConfigError(issues)
    return LLMConfig(
        models=models.valid, groups=groups.valid, pools=pools.valid, source_dir=source_dir
    )


def _load_named(
    files: Iterable[str | Path],
    parse: NamedFileParser[T],
    definitions: Definitions[T],
    env: Mapping[str, str],
) -> list[ConfigIssue]:
    """Read files defining one named item each (a group, a pool) into `definitions`; the issues."""
    issues: list[ConfigIssue] = []
    for path in map(Path, files):
        data, read_issues = _read(path, env)
        issues.extend(read_issues)
        if data is not None:
            name, item, parse_issues = parse(data, str(path))
            issues.extend(_not_caused_by(parse_issues, read_issues))
            duplicate = definitions.add(name, item, str(path), "name") if name is not None else None
            if duplicate:
                issues.append(duplicate)
    return issues


def _yaml_files(directory: Path) -> list[Path]:
    """The YAML files directly inside `directory`, sorted by name; none if it does not exist."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in _YAML_SUFFIXES and p.is_file())


def _read(path: Path, env: Mapping[str, str]) -> tuple[dict[str, Any] | None, list[ConfigIssue]]:
    """A file's top-level mapping with `${VAR}` expanded (None if unreadable), and its issues."""
    data, issues = read_yaml_mapping(path)
    if data is None:
        return None, issues
    return expand_env(data, env, str(path))


def _not_caused_by(issues: list[ConfigIssue], causes: list[ConfigIssue]) -> list[ConfigIssue]:
    """Drop issues at a field already reported (e.g. a URL still holding an unset `${VAR}`)."""
    reported = {cause.path for cause in causes}
    return [issue for issue in issues if issue.path not in reported]
