"""Load the LLM configuration from YAML files into one validated LLMConfig.

A config directory holds `models/*.yaml` (the model registry), `groups/*.yaml` (one task group
per file) and, optionally, `polling_pools/*.yaml` (one polling pool per file), `state.yaml`
(where the shared state lives, see `state_file`) and a legacy `global_fallback.yaml` (see
`legacy_fallback`). Every issue in every file is collected; if there
is any, ConfigError lists them all and nothing is returned, so a configuration is either wholly
valid or not loaded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from infrastructure.llm.config.cache_references import check_cache_sections
from infrastructure.llm.config.definitions import Definitions
from infrastructure.llm.config.env import expand_env
from infrastructure.llm.config.field_path import format_path
from infrastructure.llm.config.group_file import parse_group_file
from infrastructure.llm.config.legacy_fallback import (
    LegacyGlobalFallback,
    check_legacy_chain,
    legacy_fallback_files,
    parse_legacy_fallback,
)
from infrastructure.llm.config.model_file import parse_model_file
from infrastructure.llm.config.pool_file import parse_pool_file
from infrastructure.llm.config.references import check_pool_references, check_references
from infrastructure.llm.config.schema import (
    CacheConfig,
    LLMConfig,
    ModelConfig,
    PollingPoolConfig,
    StateConfig,
    TaskGroupConfig,
)
from infrastructure.llm.config.state_file import parse_state_file, state_files
from infrastructure.llm.config.yaml_reader import read_yaml_mapping, special_file_kind
from infrastructure.llm.errors import ConfigError, ConfigIssue

MODELS_DIR = "models"
GROUPS_DIR = "groups"
POOLS_DIR = "polling_pools"
_YAML_SUFFIXES = frozenset({".yaml", ".yml"})

logger = logging.getLogger(__name__)
# Legacy files already reported in this process: the warning is given once per file.
_warned_legacy: set[Path] = set()

T = TypeVar("T")
NamedFileParser = Callable[[dict[str, Any], str], tuple[str | None, T | None, list[ConfigIssue]]]


def load_config_dir(path: str | Path, env: Mapping[str, str] | None = None) -> LLMConfig:
    """Load `<path>/models/*.yaml`, `<path>/groups/*.yaml`, and the optional
    `<path>/polling_pools/*.yaml`, `<path>/state.yaml` and `<path>/global_fallback.yaml`;
    `env` defaults to os.environ."""
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
    files = config_dir_files(root)
    config = load_config_files(**files, env=env, source_dir=root)
    for legacy in files["legacy_fallback_files"]:
        if legacy.resolve() in _warned_legacy:
            continue
        _warned_legacy.add(legacy.resolve())
        logger.warning(
            "%s: legacy global fallback, inherited by every group and pool without its own "
            "fallback_config; run `llm-wrappers migrate --config-dir %s` to write it into "
            "each file",
            legacy,
            root,
        )
    return config


def config_dir_files(root: Path) -> dict[str, list[Path]]:
    """The files `load_config_dir` reads from `root`, as keyword arguments of
    `load_config_files`."""
    return {
        "model_files": yaml_files(root / MODELS_DIR),
        "group_files": yaml_files(root / GROUPS_DIR),
        "pool_files": yaml_files(root / POOLS_DIR),
        "state_files": state_files(root),
        "legacy_fallback_files": legacy_fallback_files(root),
    }


def load_config_files(
    model_files: Iterable[str | Path] = (),
    group_files: Iterable[str | Path] = (),
    pool_files: Iterable[str | Path] = (),
    legacy_fallback_files: Iterable[str | Path] = (),
    env: Mapping[str, str] | None = None,
    source_dir: Path | None = None,
    state_files: Iterable[str | Path] = (),
) -> LLMConfig:
    """Load the given registry, group, pool and state files, applying a legacy global fallback
    file if one is given; raise ConfigError listing every issue."""
    environ = os.environ if env is None else env
    issues: list[ConfigIssue] = []
    models: Definitions[ModelConfig] = Definitions("model")
    groups: Definitions[TaskGroupConfig] = Definitions("group")
    pools: Definitions[PollingPoolConfig] = Definitions("pool")
    for path in map(Path, model_files):
        data, read_issues = _read(path, environ)
        issues.extend(read_issues)
        if data is None:
            models.mark_unread(None)  # a registry file may define any model
        else:
            entries, parse_issues = parse_model_file(data, str(path))
            issues.extend(_not_caused_by(parse_issues, read_issues))
            for name, model in entries:
                duplicate = models.add(name, model, str(path), format_path((MODELS_DIR, name)))
                if duplicate:
                    issues.append(duplicate)
    issues.extend(_load_named(group_files, parse_group_file, groups, environ))
    issues.extend(_load_named(pool_files, parse_pool_file, pools, environ))
    legacy_files = [Path(file) for file in legacy_fallback_files]
    legacy, legacy_issues = _load_legacy(legacy_files, groups, environ)
    issues.extend(legacy_issues)
    inheriting = _inherit_legacy(legacy, groups, pools) if legacy else set()
    issues.extend(_blame_legacy(check_references(models, groups), inheriting, legacy_files))
    issues.extend(check_pool_references(pools, groups))
    state, state_issues = _load_state([Path(file) for file in state_files], environ)
    issues.extend(state_issues)
    issues.extend(check_cache_sections(_cache_sections(groups, pools), models, state))
    if issues:
        raise ConfigError(issues)
    return LLMConfig(
        models=models.valid,
        groups=groups.valid,
        pools=pools.valid,
        state=state or StateConfig(),
        source_dir=source_dir,
    )


def _cache_sections(
    groups: Definitions[TaskGroupConfig], pools: Definitions[PollingPoolConfig]
) -> list[tuple[str, CacheConfig]]:
    """Every valid group's and pool's `cache:` section, with its file."""
    return [
        (definitions.files[name], item.cache)
        for definitions in (groups, pools)
        for name, item in definitions.valid.items()
        if item.cache is not None
    ]


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
        if data is None:
            definitions.mark_unread(path.stem)
        else:
            name, item, parse_issues = parse(data, str(path))
            issues.extend(_not_caused_by(parse_issues, read_issues))
            duplicate = definitions.add(name, item, str(path), "name") if name is not None else None
            if duplicate:
                issues.append(duplicate)
    return issues


def _load_state(
    files: list[Path], env: Mapping[str, str]
) -> tuple[StateConfig | None, list[ConfigIssue]]:
    """The state settings (None if absent or invalid) and the issues found in them."""
    if not files:
        return None, []
    if len(files) > 1:
        names = " and ".join(str(file) for file in files)
        return None, [ConfigIssue(str(files[1]), "", f"conflicting state files {names}; keep one")]
    data, issues = _read(files[0], env)
    if data is None:
        return None, issues
    state, parse_issues = parse_state_file(data, str(files[0]))
    return state, issues + _not_caused_by(parse_issues, issues)


def _load_legacy(
    files: list[Path], groups: Definitions[TaskGroupConfig], env: Mapping[str, str]
) -> tuple[LegacyGlobalFallback | None, list[ConfigIssue]]:
    """The legacy global fallback (None if absent or invalid) and the issues found in it."""
    if not files:
        return None, []
    special = [file for file in files if special_file_kind(file) is not None]
    if special:
        return None, [issue for file in special for issue in read_yaml_mapping(file)[1]]
    if len(files) > 1:
        names = " and ".join(str(file) for file in files)
        return None, [
            ConfigIssue(
                str(files[1]),
                "",
                f"conflicting legacy global fallback files {names}; keep one of them",
            )
        ]
    file = files[0]
    data, issues = _read(file, env)
    if data is None:
        return None, issues
    legacy, parse_issues = parse_legacy_fallback(data, str(file))
    issues.extend(_not_caused_by(parse_issues, issues))
    if legacy is not None:
        issues.extend(check_legacy_chain(legacy, str(file), groups))
    return (None if issues else legacy), issues


def _inherit_legacy(
    legacy: LegacyGlobalFallback,
    groups: Definitions[TaskGroupConfig],
    pools: Definitions[PollingPoolConfig],
) -> set[str]:
    """Give every valid group and pool without its own fallback_config the legacy one; return
    the files of those that inherited."""
    inheriting: set[str] = set()
    for name, group in groups.valid.items():
        if "fallback_config" not in group.model_fields_set:
            fallback = legacy.for_group(name)
            groups.valid[name] = group.model_copy(update={"fallback_config": fallback})
            inheriting.add(groups.files[name])
    for name, pool in pools.valid.items():
        if "fallback_config" not in pool.model_fields_set:
            update = {"fallback_config": legacy.polling_pool_fallback}
            pools.valid[name] = pool.model_copy(update=update)
            inheriting.add(pools.files[name])
    return inheriting


def _blame_legacy(
    issues: list[ConfigIssue],
    inheriting: set[str],
    legacy_files: list[Path],
) -> list[ConfigIssue]:
    """Report a problem in an inherited fallback_config at the legacy file that caused it."""
    if not legacy_files:
        return issues
    return [
        ConfigIssue(
            str(legacy_files[0]),
            "fallback.fallback_groups",
            f"inherited by {issue.file} (which has no fallback_config of its own): {issue.message}",
        )
        if issue.file in inheriting and issue.path.startswith("fallback_config")
        else issue
        for issue in issues
    ]


def yaml_files(directory: Path) -> list[Path]:
    """The entries named `*.yaml` or `*.yml` directly inside `directory`, sorted by name; none
    if it does not exist.

    Entries that are not regular files (a directory, a dangling symlink, a FIFO...) are
    listed too: reading one is an issue naming it, rather than a group or model silently
    missing.
    """
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in _YAML_SUFFIXES)


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
