"""Checks across files: models a group names, fallback targets, fallback cycles, and the groups
polling pools draw on."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from infrastructure.llm.config.definitions import Definitions
from infrastructure.llm.config.field_path import format_path
from infrastructure.llm.config.schema import ModelConfig, PollingPoolConfig, TaskGroupConfig
from infrastructure.llm.config.targets import FallbackTarget, echelon_name
from infrastructure.llm.errors import ConfigIssue

_MAX_LISTED = 20


def check_references(
    models: Definitions[ModelConfig], groups: Definitions[TaskGroupConfig]
) -> list[ConfigIssue]:
    """Every dangling or circular reference among the valid groups, reported where it is made."""
    issues: list[ConfigIssue] = []
    for name, group in groups.valid.items():
        file = groups.files[name]
        issues.extend(_model_issues(group, file, models))
        issues.extend(_target_issues(group, file, groups))
    issues.extend(_cycle_issues(groups))
    return issues


def check_pool_references(
    pools: Definitions[PollingPoolConfig], groups: Definitions[TaskGroupConfig]
) -> list[ConfigIssue]:
    """Pool names clashing with group names, and task_groups naming missing groups or echelons."""
    issues = [
        ConfigIssue(
            file,
            "name",
            f"pool {name!r} has the same name as the group defined in {groups.files[name]}; "
            f"wrappers are named '<name>_wrapper', so both would be '{name}_wrapper'; "
            "rename the pool",
        )
        for name, file in pools.files.items()
        if name in groups.files
    ]
    for name, pool in pools.valid.items():
        for index, target in enumerate(pool.targets()):
            problem = missing_target(target, groups)
            if problem:
                issues.append(
                    ConfigIssue(pools.files[name], format_path(("task_groups", index)), problem)
                )
    return issues


def _model_issues(
    group: TaskGroupConfig, file: str, models: Definitions[ModelConfig]
) -> Iterable[ConfigIssue]:
    """Echelon models missing from the registry, or that are no chat models."""
    for number, echelon in group.ordered_echelons():
        for index, model in enumerate(echelon.models):
            path = format_path((echelon_name(number), "models", index))
            if not models.defined(model):
                yield ConfigIssue(
                    file, path, f"unknown model {model!r}; {_known('model', model, models.files)}"
                )
            elif model in models.valid and models.valid[model].kind != "chat":
                yield ConfigIssue(
                    file,
                    path,
                    f"model {model!r} ({models.files[model]}) is an embeddings model; "
                    "echelons need chat models (kind: chat, the default)",
                )


def embeddings_model_problem(name: str, models: Mapping[str, ModelConfig]) -> str | None:
    """Why `name` is no embeddings model of the registry `models`; None if it is one."""
    model = models.get(name)
    if model is None:
        embeddings = [n for n, m in models.items() if m.kind == "embeddings"]
        if not embeddings:
            return f"unknown model {name!r}; the registry has no model of kind embeddings"
        return f"unknown model {name!r}; {_known('embeddings model', name, embeddings)}"
    if model.kind != "embeddings":
        return f"model {name!r} is a chat model; name a registry model with kind: embeddings"
    return None


def _target_issues(
    group: TaskGroupConfig, file: str, groups: Definitions[TaskGroupConfig]
) -> Iterable[ConfigIssue]:
    """Fallback targets naming the group itself, a missing group, or a missing echelon."""
    for index, target in enumerate(group.fallback_config.targets()):
        path = format_path(("fallback_config", "fallback_groups", index))
        if target.group == group.name and target.echelon in (None, 1):
            yield ConfigIssue(
                file,
                path,
                f"{str(target)!r} points back at the group itself; name a lower echelon "
                f"such as '{group.name}.echelon2' or another group",
            )
        else:
            problem = missing_target(target, groups)
            if problem:
                yield ConfigIssue(file, path, problem)


def missing_target(target: FallbackTarget, groups: Definitions[TaskGroupConfig]) -> str | None:
    """What is missing when `target` names an undefined group or echelon; None if nothing is."""
    if not groups.defined(target.group):
        return f"unknown group {target.group!r}; {_known('group', target.group, groups.files)}"
    if target.echelon is not None and target.group in groups.valid:
        have = groups.valid[target.group].echelon_names()
        if echelon_name(target.echelon) not in have:
            return (
                f"group {target.group!r} has no {echelon_name(target.echelon)}; "
                f"it has {', '.join(have)}"
            )
    return None


def _cycle_issues(groups: Definitions[TaskGroupConfig]) -> list[ConfigIssue]:
    """One issue per fallback edge that closes a cycle between groups (A -> B -> A)."""
    edges: dict[str, list[tuple[str, int]]] = {
        name: [
            (target.group, index)
            for index, target in enumerate(group.fallback_config.targets())
            if target.group != name and target.group in groups.valid
        ]
        for name, group in groups.valid.items()
    }
    issues: list[ConfigIssue] = []
    trail: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        trail.append(name)
        for successor, index in edges[name]:
            if successor in trail:
                cycle = " -> ".join((*trail[trail.index(successor) :], successor))
                issues.append(
                    ConfigIssue(
                        groups.files[name],
                        format_path(("fallback_config", "fallback_groups", index)),
                        f"fallback cycle {cycle}; fallback targets must not lead back "
                        "to a group already on the way",
                    )
                )
            elif successor not in done:
                visit(successor)
        trail.pop()
        done.add(name)

    for name in edges:
        if name not in done:
            visit(name)
    return issues


def _known(kind: str, wanted: str, defined: Iterable[str]) -> str:
    """List the defined names (closest match first if there is one), or say there are none."""
    names = sorted(defined)
    if not names:
        return f"the {kind} registry is empty"
    close = difflib.get_close_matches(wanted, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(names[:_MAX_LISTED]) + (", ..." if len(names) > _MAX_LISTED else "")
    return f"{hint}known {kind}s: {listed}"
