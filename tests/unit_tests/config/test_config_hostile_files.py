"""Hostile and broken files: each is one ConfigError naming the file, never a hang or a crash.

No test here measures time. Each input is built to explode (10^9 nodes, a 50 MB read, 20,000
levels of recursion, a FIFO that blocks when opened) if the limit or check it exercises were
missing, so a regression shows as a hang or a crash, not as a slow pass; the assertions check
that the error names the limit that stopped it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from infrastructure.llm.config import LLMConfig
from infrastructure.llm.config.env import expand_env
from infrastructure.llm.config.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from infrastructure.llm.errors import ConfigIssue

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Issues = Callable[..., list[ConfigIssue]]
Load = Callable[..., LLMConfig]

GROUP = "name: g\nechelon1:\n  models: [alpha]\n"
NODES_MESSAGE = (
    f"file expands to more than {MAX_NODES} nodes (YAML aliases?); the limit is {MAX_NODES}"
)
DEPTH_MESSAGE = f"file nests more than {MAX_DEPTH} levels deep; the limit is {MAX_DEPTH}"
NOT_REGULAR = "expected a regular file (or a symbolic link to one), found "

needs_mkfifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo is missing")


def billion_laughs() -> str:
    """Nine levels of ten aliases each: about 600 bytes standing for 10^9 strings."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        aliases = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "name: g\n" + "\n".join(lines) + "\n"


# --- size, node count, depth ------------------------------------------------------------


def test_alias_bomb_is_rejected_while_parsing(write: Write, registry: Path, issue: Issue) -> None:
    text = billion_laughs()
    assert len(text) < 700
    path = write("groups/g.yaml", text)
    found = issue()
    assert (found.file, found.path) == (str(path), "")
    assert found.message.startswith(NODES_MESSAGE)


def test_alias_bomb_of_mappings_is_rejected(write: Write, registry: Path, issue: Issue) -> None:
    lines = ["m0: &m0 {k0: lol, k1: lol, k2: lol, k3: lol, k4: lol, k5: lol, k6: lol, k7: lol}"]
    for level in range(1, 10):
        keys = ", ".join(f"k{key}: *m{level - 1}" for key in range(8))
        lines.append(f"m{level}: &m{level} {{{keys}}}")
    path = write("models/bomb.yaml", "models:\n  " + "\n  ".join(lines) + "\n")
    found = issue()
    assert found.file == str(path)
    assert found.message.startswith(NODES_MESSAGE)


def test_alias_bomb_through_merge_keys_is_rejected(
    write: Write, registry: Path, issue: Issue
) -> None:
    lines = ["b0: &b0 {x: 1, y: 2}"]
    for level in range(1, 30):
        lines.append(f"b{level}: &b{level} {{<<: *b{level - 1}, n{level}: [*b{level - 1}]}}")
    path = write("groups/g.yaml", GROUP + "extra:\n  " + "\n  ".join(lines) + "\n")
    found = issue()
    assert found.file == str(path)
    assert found.message.startswith(NODES_MESSAGE)


def test_a_file_with_too_many_plain_nodes_is_rejected(
    write: Write, registry: Path, issue: Issue
) -> None:
    items = ", ".join(["alpha"] * MAX_NODES)
    path = write("groups/g.yaml", f"name: g\nechelon1:\n  models: [{items}]\n")
    found = issue()
    assert found.file == str(path)
    assert found.message.startswith(NODES_MESSAGE)


def test_modest_aliases_still_load(write: Write, registry: Path, load: Load) -> None:
    write(
        "groups/g.yaml",
        """
        name: g
        echelon1: &tier
          models: &models [alpha, beta]
          timeout: 10
        echelon2:
          <<: *tier
          models: *models
        echelon3: *tier
        """,
    )
    group = load().groups["g"]
    assert [echelon.models for _, echelon in group.ordered_echelons()] == [["alpha", "beta"]] * 3


def test_a_recursive_alias_is_rejected(write: Write, registry: Path, issue: Issue) -> None:
    path = write("groups/g.yaml", GROUP + "loop: &loop [1, *loop]\n")
    found = issue()
    assert found.file == str(path)
    assert found.message.startswith(
        "alias *loop refers to a node that contains it; recursive structures are not allowed"
    )


def test_20000_nested_brackets_are_too_deep(write: Write, registry: Path, issue: Issue) -> None:
    path = write("groups/g.yaml", GROUP + "deep: " + "[" * 20_000 + "]" * 20_000 + "\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "")
    assert found.message.startswith(DEPTH_MESSAGE)


def test_deeply_indented_mappings_are_too_deep(write: Write, registry: Path, issue: Issue) -> None:
    nested = "".join(f"{' ' * level}k{level}:\n" for level in range(MAX_DEPTH + 50))
    path = write("models/deep.yaml", nested + " " * (MAX_DEPTH + 50) + "leaf\n")
    found = issue()
    assert found.file == str(path)
    assert found.message.startswith(DEPTH_MESSAGE)


def nested_params(lists: int) -> str:
    """A registry whose deepest value sits at level 5 + `lists`: the top mapping, `models`,
    `m`, `params`, then `lists` nested lists and the scalar inside them."""
    return (
        "models:\n  m:\n    provider: mock\n    model: x\n"
        f"    params: {{nested: {'[' * lists}1{']' * lists}}}\n"
    )


def test_nesting_up_to_the_limit_loads(write: Write, load: Load) -> None:
    write("models/m.yaml", nested_params(MAX_DEPTH - 5))
    assert load().models["m"].params["nested"] is not None


def test_nesting_one_level_past_the_limit_is_rejected(write: Write, issue: Issue) -> None:
    write("models/m.yaml", nested_params(MAX_DEPTH - 4))
    assert issue().message.startswith(DEPTH_MESSAGE)


def test_a_50_mb_file_is_rejected_by_its_size(
    config_dir: Path, registry: Path, issue: Issue
) -> None:
    path = config_dir / "groups" / "big.yaml"
    path.touch()
    os.truncate(path, 50 * 1024 * 1024)  # sparse: nothing is written
    found = issue()
    assert (found.file, found.path) == (str(path), "")
    assert found.message == (
        f"file is {50 * 1024 * 1024} bytes; the limit is {MAX_FILE_BYTES} bytes per config file"
    )


def test_a_file_one_byte_over_the_limit_is_rejected(
    write: Write, registry: Path, issue: Issue
) -> None:
    path = write("groups/g.yaml", GROUP + "#" * (MAX_FILE_BYTES - len(GROUP)) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES + 1
    assert issue().message == (
        f"file is {MAX_FILE_BYTES + 1} bytes; the limit is {MAX_FILE_BYTES} bytes per config file"
    )


def test_env_expansion_of_shared_lists_stops_at_the_node_limit() -> None:
    """Data shared as PyYAML composes aliases (one object, many references): expanding it as a
    tree would take 10^9 steps, and stops after MAX_NODES."""
    shared: list[object] = ["${X:-lol}"] * 10
    for _ in range(9):
        shared = [shared] * 10
    data, issues = expand_env({"bomb": shared}, {}, "f.yaml")
    assert data is None
    assert [(issue.file, issue.path, issue.message) for issue in issues] == [
        ("f.yaml", "", NODES_MESSAGE)
    ]


def test_env_expansion_of_a_self_referencing_list_stops_at_the_depth_limit() -> None:
    loop: list[object] = []
    loop.append(loop)
    data, issues = expand_env({"loop": loop}, {}, "f.yaml")
    assert data is None
    assert [issue.message for issue in issues] == [DEPTH_MESSAGE]


# --- entries that are not regular files ----------------------------------------------------


@pytest.fixture(params=["models", "groups", "polling_pools"])
def subdir(request: pytest.FixtureRequest, config_dir: Path, registry: Path) -> Path:
    """Each directory of config files, present and otherwise valid."""
    directory = config_dir / request.param
    directory.mkdir(exist_ok=True)
    return directory


def test_a_directory_named_like_a_yaml_file(subdir: Path, issue: Issue) -> None:
    (subdir / "c.yaml").mkdir()
    found = issue()
    assert (found.file, found.path) == (str(subdir / "c.yaml"), "")
    assert found.message == NOT_REGULAR + "a directory"


def test_a_dangling_symlink(subdir: Path, issue: Issue) -> None:
    (subdir / "c.yml").symlink_to("missing.yaml")
    found = issue()
    assert found.file == str(subdir / "c.yml")
    assert found.message == NOT_REGULAR + "a symbolic link to 'missing.yaml', which does not exist"


def test_a_symlink_loop(subdir: Path, issues: Issues) -> None:
    (subdir / "c.yaml").symlink_to("d.yaml")
    (subdir / "d.yaml").symlink_to("c.yaml")
    loop = NOT_REGULAR + "a symbolic link loop (too many levels of symbolic links)"
    assert [(found.file, found.message) for found in issues()] == [
        (str(subdir / "c.yaml"), loop),
        (str(subdir / "d.yaml"), loop),
    ]


@needs_mkfifo
def test_a_fifo_is_reported_and_never_opened(subdir: Path, issue: Issue) -> None:
    os.mkfifo(subdir / "c.yaml")  # opening it to read would block until a writer comes
    found = issue()
    assert found.file == str(subdir / "c.yaml")
    assert found.message == NOT_REGULAR + "a named pipe (FIFO), which was not opened"


def test_a_symlink_to_a_directory(subdir: Path, issue: Issue) -> None:
    (subdir / "c.yaml").symlink_to(subdir.parent)
    assert issue().message == NOT_REGULAR + "a symbolic link to a directory"


def test_a_symlink_to_a_regular_file_is_allowed(
    config_dir: Path, write: Write, registry: Path, load: Load
) -> None:
    target = write("shared_group.yaml", GROUP)
    (config_dir / "groups" / "g.yaml").symlink_to(target)
    assert list(load().groups) == ["g"]


def test_entries_with_other_suffixes_are_still_ignored(
    config_dir: Path, registry: Path, load: Load
) -> None:
    (config_dir / "groups" / "notes.txt").mkdir()
    (config_dir / "groups" / "README").symlink_to("nowhere")
    assert load().groups == {}


@pytest.mark.parametrize("kind", ["directory", "dangling symlink", "fifo"])
def test_a_legacy_fallback_that_is_not_a_regular_file(
    kind: str, config_dir: Path, registry: Path, issue: Issue
) -> None:
    path = config_dir / "global_fallback.yaml"
    if kind == "directory":
        path.mkdir()
    elif kind == "dangling symlink":
        path.symlink_to("gone.yaml")
    elif hasattr(os, "mkfifo"):
        os.mkfifo(path)
    else:
        pytest.skip("os.mkfifo is missing")
    found = issue()
    assert (found.file, found.path) == (str(path), "")
    assert found.message.startswith(NOT_REGULAR)


def test_a_broken_legacy_file_beside_a_real_one_is_named(
    config_dir: Path, write: Write, registry: Path, issue: Issue
) -> None:
    write("global_fallback.yaml", "fallback: {max_attempts: 2}\n")
    (config_dir / "global_fallback.yml").mkdir()
    found = issue()
    assert found.file == str(config_dir / "global_fallback.yml")
    assert found.message == NOT_REGULAR + "a directory"
