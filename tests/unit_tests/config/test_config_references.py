"""References across files: models named by groups, fallback targets, cycles, duplicates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infrastructure.llm.config import LLMConfig, load_config_dir, load_config_files
from infrastructure.llm.errors import ConfigError, ConfigIssue

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Issues = Callable[..., list[ConfigIssue]]
Load = Callable[..., LLMConfig]


def group(name: str, targets: str = "", strategy: str = "echelon_down", echelons: int = 1) -> str:
    """YAML of a group whose echelons all use model `alpha`, with the given fallback targets."""
    tiers = "".join(f"echelon{n}: {{models: [alpha]}}\n" for n in range(1, echelons + 1))
    fallback = f"fallback_config: {{strategy: {strategy}, fallback_groups: [{targets}]}}\n"
    return f"name: {name}\n{tiers}{fallback}"


def test_group_naming_an_unknown_model(write: Write, registry: Path, issue: Issue) -> None:
    path = write(
        "groups/g.yaml",
        "name: g\nechelon1: {models: [alpha]}\nechelon2: {models: [alpha, betta]}\n",
    )
    found = issue()
    assert (found.file, found.path) == (str(path), "echelon2.models[1]")
    assert found.message == "unknown model 'betta'; did you mean 'beta'? known models: alpha, beta"


def test_group_naming_a_model_with_an_empty_registry(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha]}\n")
    found = issue()
    assert (found.path, found.message) == (
        "echelon1.models[0]",
        "unknown model 'alpha'; the model registry is empty",
    )


def test_invalid_model_is_reported_once_not_again_where_used(write: Write, issue: Issue) -> None:
    registry = write("models/m.yaml", "models:\n  alpha: {provider: nope, model: x}\n")
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha]}\n")
    found = issue()
    assert (found.file, found.path) == (str(registry), "models.alpha.provider")


def test_target_naming_an_unknown_group(write: Write, registry: Path, issue: Issue) -> None:
    path = write("groups/g.yaml", group("g", "fast_grup"))
    write("groups/fast.yaml", group("fast_group"))
    found = issue()
    assert (found.file, found.path) == (str(path), "fallback_config.fallback_groups[0]")
    assert found.message == (
        "unknown group 'fast_grup'; did you mean 'fast_group'? known groups: fast_group, g"
    )


def test_target_naming_a_missing_echelon(write: Write, registry: Path, issue: Issue) -> None:
    write("groups/a.yaml", group("a", "b.echelon1, b.echelon3"))
    write("groups/b.yaml", group("b", echelons=2))
    found = issue()
    assert found.path == "fallback_config.fallback_groups[1]"
    assert found.message == "group 'b' has no echelon3; it has echelon1, echelon2"


@pytest.mark.parametrize("target", ["g", "g.echelon1"])
def test_group_may_not_fall_back_to_itself(
    write: Write, registry: Path, issue: Issue, target: str
) -> None:
    path = write("groups/g.yaml", group("g", target, echelons=2))
    found = issue()
    assert (found.file, found.path) == (str(path), "fallback_config.fallback_groups[0]")
    assert found.message == (
        f"'{target}' points back at the group itself; "
        "name a lower echelon such as 'g.echelon2' or another group"
    )


def test_group_may_name_its_own_lower_echelons(write: Write, registry: Path, load: Load) -> None:
    write("groups/g.yaml", group("g", "g.echelon2, g.echelon3", echelons=3))
    targets = load().groups["g"].fallback_config.targets()
    assert [str(target) for target in targets] == ["g.echelon2", "g.echelon3"]


def test_two_group_cycle_is_rejected(write: Write, registry: Path, issue: Issue) -> None:
    write("groups/a.yaml", group("a", "b", "task_group_switch"))
    path_b = write("groups/b.yaml", group("b", "a.echelon1"))
    found = issue()
    assert (found.file, found.path) == (str(path_b), "fallback_config.fallback_groups[0]")
    assert found.message == (
        "fallback cycle a -> b -> a; fallback targets must not lead back to a group already "
        "on the way"
    )


def test_longer_cycle_is_rejected_once(write: Write, registry: Path, issue: Issue) -> None:
    write("groups/a.yaml", group("a", "b"))
    write("groups/b.yaml", group("b", "c"))
    write("groups/c.yaml", group("c", "x, a"))
    write("groups/x.yaml", group("x"))
    found = issue()
    assert found.path == "fallback_config.fallback_groups[1]"
    assert "fallback cycle a -> b -> c -> a" in found.message


def test_shared_fallback_is_not_a_cycle(write: Write, registry: Path, load: Load) -> None:
    write("groups/a.yaml", group("a", "b, c"))
    write("groups/b.yaml", group("b", "c"))
    write("groups/c.yaml", group("c"))
    assert sorted(load().groups) == ["a", "b", "c"]


def test_two_files_defining_the_same_group(write: Write, registry: Path, issue: Issue) -> None:
    first = write("groups/a.yaml", group("fast"))
    second = write("groups/b.yaml", group("fast"))
    found = issue()
    assert (found.file, found.path) == (str(second), "name")
    assert (
        found.message == f"group 'fast' is already defined in {first}; group names must be unique"
    )


def test_issues_from_all_files_are_raised_together(write: Write, issues: Issues) -> None:
    models = write("models/m.yaml", "models:\n  alpha: {provider: mock, model: ''}\n")
    broken = write("groups/a.yaml", "name: a\nechelon1: {models: [alpha\n")
    dangling = write("groups/b.yaml", group("b", "nowhere"))
    assert [(i.file, i.path) for i in issues()] == [
        (str(models), "models.alpha.model"),
        (str(broken), ""),
        (str(dangling), "fallback_config.fallback_groups[0]"),
    ]


def test_load_config_files_takes_explicit_files(write: Write, registry: Path) -> None:
    path = write("groups/g.yaml", group("g"))
    config = load_config_files(model_files=[registry], group_files=[str(path)], env={})
    assert sorted(config.models) == ["alpha", "beta"]
    assert list(config.groups) == ["g"]
    assert config.source_dir is None


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_dir(tmp_path / "nope", env={})
    assert caught.value.issues == [
        ConfigIssue(str(tmp_path / "nope"), "", "configuration directory not found")
    ]


def test_directory_without_models_or_groups_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_dir(tmp_path, env={})
    assert caught.value.issues == [
        ConfigIssue(
            str(tmp_path), "", "expected a models/ and a groups/ subdirectory; found neither"
        )
    ]
