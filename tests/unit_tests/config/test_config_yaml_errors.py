"""Broken YAML files: syntax errors, wrong top level, empty files, duplicate keys, unsafe tags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infrastructure.llm.config import LLMConfig
from infrastructure.llm.errors import ConfigIssue

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Issues = Callable[..., list[ConfigIssue]]
Load = Callable[..., LLMConfig]


def test_syntax_error_names_file_line_and_column(write: Write, issue: Issue) -> None:
    path = write(
        "groups/g.yaml",
        """
        name: g
        echelon1:
          models: [alpha
          timeout: 3
        """,
    )
    found = issue()
    assert found.file == str(path)
    assert found.message.startswith("invalid YAML at line 4, column 10:")
    assert "started at line 3" in found.message


def test_top_level_list_is_rejected(write: Write, issue: Issue) -> None:
    path = write("groups/g.yaml", "- name: g\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "")
    assert found.message == "expected a mapping at the top level, got a list"


def test_top_level_scalar_is_rejected(write: Write, issue: Issue) -> None:
    write("models/m.yaml", "just text\n")
    assert issue().message == "expected a mapping at the top level, got a single value (str)"


def test_empty_file_is_rejected(write: Write, issue: Issue) -> None:
    path = write("models/empty.yaml", "# nothing here yet\n")
    found = issue()
    assert found.file == str(path)
    assert found.message == "file is empty; expected a mapping of settings"


def test_duplicate_key_names_path_and_both_lines(write: Write, issue: Issue) -> None:
    path = write(
        "groups/g.yaml",
        """
        name: g
        echelon1:
          models: [alpha]
          timeout: 10
          timeout: 20
        """,
    )
    found = issue()
    assert (found.file, found.path) == (str(path), "echelon1.timeout")
    assert found.message == (
        "duplicate key 'timeout' at line 5 (first given at line 4); "
        "each key may appear once in a mapping"
    )


def test_every_duplicate_key_is_reported(write: Write, issues: Issues) -> None:
    write(
        "models/m.yaml",
        """
        models:
          a: {provider: mock, model: x}
          a: {provider: mock, model: y}
          b:
            provider: mock
            model: z
            endpoints:
              - {name: one, name: two}
        """,
    )
    assert [issue.path for issue in issues()] == ["models.a", "models.b.endpoints[0].name"]


def test_merge_keys_are_not_mistaken_for_duplicates(
    write: Write, registry: Path, load: Load
) -> None:
    write(
        "groups/g.yaml",
        """
        name: g
        echelon1: &base
          models: [alpha]
          timeout: 10
        echelon2:
          <<: *base
          timeout: 20
        """,
    )
    assert load().groups["g"].echelons[2].timeout == 20


def test_python_tags_are_refused(write: Write, issue: Issue) -> None:
    write("models/m.yaml", "models: !!python/object/apply:os.system ['true']\n")
    found = issue()
    assert found.message.startswith("invalid YAML at line 1, column 9:")
    assert "could not determine a constructor" in found.message
