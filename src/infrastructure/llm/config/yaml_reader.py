"""Read one YAML config file safely: no duplicate keys, a mapping at the top, errors as issues.

Messages carry line and column but never the offending source line, which may hold a secret.
A file must be a regular file (or a symbolic link to one) within the limits of
`infrastructure.llm.config.limits`: its size is checked before it is read, and its node count
(aliases expanded) and nesting depth while it is parsed, so no input can hang or crash the
loader.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from infrastructure.llm.config.field_path import Loc, format_path
from infrastructure.llm.config.limits import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    too_deep_message,
    too_many_nodes_message,
)
from infrastructure.llm.errors import ConfigIssue

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Opening a FIFO for reading blocks until a writer comes; O_NONBLOCK makes it return at once
# (for a regular file it changes nothing). Special files are refused before opening anyway.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


class UnreadableFileError(Exception):
    """A config file that cannot be read: not a regular file, too large, or an OS error."""


class DuplicateKeysError(yaml.YAMLError):
    """A document repeats keys inside a mapping; holds one `(loc, key, line, first_line)` each."""

    def __init__(self, duplicates: list[tuple[Loc, str, int, int]]) -> None:
        self.duplicates = duplicates
        super().__init__(f"{len(duplicates)} duplicate key(s)")


class LimitExceededError(yaml.YAMLError):
    """A document is too big once its aliases are expanded, nests too deeply, or refers to
    itself; `message` says which and where."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        where = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        self.message = message + where
        super().__init__(self.message)


class UniqueKeySafeLoader(yaml.SafeLoader):
    """A `yaml.SafeLoader` that rejects a document in which any mapping repeats a key, and one
    that exceeds `MAX_NODES` (counting every alias as the nodes it stands for) or `MAX_DEPTH`.

    PyYAML composes an alias as the very node object its anchor names, so the node graph stays
    small while the tree it stands for can be exponentially large; every later walk over the
    loaded data (environment expansion, validation) sees that tree. Counting it while
    composing stops an alias bomb before it is ever walked.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._expanded_nodes = 0
        self._depth = 0
        self._anchor_sizes: dict[str, int] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        """Compose as `SafeLoader` does, counting nodes as the expanded tree has them."""
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            if event.anchor in self.anchors:
                size = self._anchor_sizes.get(event.anchor)
                if size is None:
                    raise LimitExceededError(
                        f"alias *{event.anchor} refers to a node that contains it; "
                        "recursive structures are not allowed",
                        event.start_mark,
                    )
                self._count(size, event)
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise LimitExceededError(too_deep_message(), event.start_mark)
        start = self._expanded_nodes
        self._count(1, event)
        self._depth += 1
        node = super().compose_node(parent, index)
        self._depth -= 1
        if event.anchor is not None:
            self._anchor_sizes[event.anchor] = self._expanded_nodes - start
        return node

    def _count(self, nodes: int, event: yaml.Event) -> None:
        self._expanded_nodes += nodes
        if self._expanded_nodes > MAX_NODES:
            raise LimitExceededError(too_many_nodes_message(), event.start_mark)

    def construct_document(self, node: Node) -> Any:
        """Check the whole node tree for repeated keys, then construct as `SafeLoader` does."""
        duplicates = list(_duplicate_keys(node, (), set()))
        if duplicates:
            raise DuplicateKeysError(duplicates)
        return super().construct_document(node)


def load_yaml(text: str) -> Any:
    """Parse one YAML document with `UniqueKeySafeLoader`; raises yaml.YAMLError."""
    return yaml.load(text, Loader=UniqueKeySafeLoader)


def read_yaml_mapping(path: Path) -> tuple[dict[str, Any] | None, list[ConfigIssue]]:
    """Parse `path`; return its top-level mapping, or None with the issues that prevented it."""
    file = str(path)
    try:
        text = read_config_bytes(path).decode("utf-8")
    except UnreadableFileError as exc:
        return None, [ConfigIssue(file, "", str(exc))]
    except UnicodeDecodeError as exc:
        return None, [ConfigIssue(file, "", f"cannot read file: {exc}")]
    try:
        data = load_yaml(text)
    except DuplicateKeysError as exc:
        return None, [_duplicate_issue(file, *duplicate) for duplicate in exc.duplicates]
    except LimitExceededError as exc:
        return None, [ConfigIssue(file, "", exc.message)]
    except yaml.YAMLError as exc:
        return None, [ConfigIssue(file, "", _syntax_message(exc))]
    except RecursionError:  # not expected within MAX_DEPTH; never let it escape as a crash
        return None, [ConfigIssue(file, "", too_deep_message())]
    if data is None:
        return None, [ConfigIssue(file, "", "file is empty; expected a mapping of settings")]
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        return None, [ConfigIssue(file, "", f"expected a mapping at the top level, got {kind}")]
    return data, []


def read_config_bytes(path: Path) -> bytes:
    """The bytes of a config file: a regular file (or a symlink to one) of at most
    `MAX_FILE_BYTES`, checked before reading; UnreadableFileError says why not."""
    found = special_file_kind(path)
    if found is not None:
        raise UnreadableFileError(_not_regular_message(found))
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise UnreadableFileError(f"cannot read file: {exc}") from None
    try:
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):  # replaced since it was looked at
                raise UnreadableFileError(_not_regular_message(_mode_kind(info.st_mode)))
            if info.st_size > MAX_FILE_BYTES:
                raise UnreadableFileError(_too_large_message(str(info.st_size)))
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UnreadableFileError(f"cannot read file: {exc}") from None
    if len(data) > MAX_FILE_BYTES:  # grew since it was looked at
        raise UnreadableFileError(_too_large_message(f"more than {MAX_FILE_BYTES}"))
    return data


def special_file_kind(path: Path) -> str | None:
    """What `path` is if it is neither a regular file nor a symbolic link to one (a directory,
    a dangling symlink, a symlink loop, a FIFO, a socket, a device); None if it is one, or if
    it cannot be looked at (reading it then says why). Never opens the file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if not path.is_symlink():
            return None
        try:
            target = os.readlink(path)
        except OSError:
            return "a symbolic link to a file that does not exist"
        return f"a symbolic link to {target!r}, which does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (too many levels of symbolic links)"
        return None
    kind = _mode_kind(mode)
    if kind is not None and path.is_symlink():
        return f"a symbolic link to {kind}"
    return kind


def _mode_kind(mode: int) -> str | None:
    """The kind of a non-regular file, by its mode; None for a regular file."""
    kinds = (
        (stat.S_ISREG, None),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO), which was not opened"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def _not_regular_message(found: str | None) -> str:
    return f"expected a regular file (or a symbolic link to one), found {found}"


def _too_large_message(size: str) -> str:
    return f"file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes per config file"


def _duplicate_keys(node: Node, loc: Loc, seen: set[int]) -> Iterator[tuple[Loc, str, int, int]]:
    """Yield every repeated scalar key in the tree under `node`.

    Each node is visited once, however many aliases share it, so the walk is linear in the
    size of the file, not of its expanded tree.
    """
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
