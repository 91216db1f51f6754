"""Read one YAML config file safely: no duplicate keys, a mapping at the top, errors as issues.

Messages carry line and column but never the offending source line, which may hold a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from infrastructure.llm.config.field_path import Loc, format_path
from infrastructure.llm.errors import ConfigIssue

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeysError(yaml.YAMLError):
    """A document repeats keys inside a mapping; holds one `(loc, key, line, first_line)` each."""

    def __init__(self, duplicates: list[tuple[Loc, str, int, int]]) -> None:
        self.duplicates = duplicates
        super().__init__(f"{len(duplicates)} duplicate key(s)")


class UniqueKeySafeLoader(yaml.SafeLoader):
    """A `yaml.SafeLoader` that rejects a document in which any mapping repeats a key."""

    def construct_document(self, node: Node) -> Any:
        """Check the whole node tree for repeated keys, then construct as `SafeLoader` does."""
        duplicates = list(_duplicate_keys(node, (), set()))
        if duplicates:
            raise DuplicateKeysError(duplicates)
        return super().construct_document(node)


def read_yaml_mapping(path: Path) -> tuple[dict[str, Any] | None, list[ConfigIssue]]:
    """Parse `path`; return its top-level mapping, or None with the issues that prevented it."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigIssue(file, "", f"cannot read file: {exc}")]
    try:
        data = yaml.load(text, Loader=UniqueKeySafeLoader)
    except DuplicateKeysError as exc:
        return None, [_duplicate_issue(file, *duplicate) for duplicate in exc.duplicates]
    except yaml.YAMLError as exc:
        return None, [ConfigIssue(file, "", _syntax_message(exc))]
    if data is None:
        return None, [ConfigIssue(file, "", "file is empty; expected a mapping of settings")]
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        return None, [ConfigIssue(file, "", f"expected a mapping at the top level, got {kind}")]
    return data, []


def _duplicate_keys(node: Node, loc: Loc, seen: set[int]) -> Iterator[tuple[Loc, str, int, int]]:
    """Yield every repeated scalar key in the tree under `node` (aliases visited once)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        first_lines: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_lines:
                yield (*loc, key_node.value), key_node.value, line, first_lines[key]
            else:
                first_lines[key] = line
            yield from _duplicate_keys(value_node, (*loc, key_node.value), seen)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index), seen)


def _duplicate_issue(file: str, loc: Loc, key: str, line: int, first_line: int) -> ConfigIssue:
    """The issue for one repeated key."""
    return ConfigIssue(
        file,
        format_path(loc),
        f"duplicate key {key!r} at line {line} (first given at line {first_line}); "
        "each key may appear once in a mapping",
    )


def _syntax_message(exc: yaml.YAMLError) -> str:
    """Describe a YAML error by position and problem, without quoting the source text."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"invalid YAML: {type(exc).__name__}"
    mark = exc.problem_mark
    message = f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} started at line {exc.context_mark.line + 1})"
    return message
