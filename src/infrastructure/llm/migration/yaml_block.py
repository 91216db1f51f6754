"""Add one top-level key to a YAML file without touching a byte of what is already there.

The new block goes at the end of the document (before an explicit `...` end marker if there
is one), in the file's own line endings. The result is parsed again and must hold exactly the
old settings plus the new key, so an edit can never change what the file already said.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from infrastructure.llm.errors import ConfigIssue

_INDENT = "  "


class BlockConflict(Exception):
    """The key cannot be appended safely; holds the issue to report."""

    def __init__(self, issue: ConfigIssue) -> None:
        self.issue = issue
        super().__init__(str(issue))


def append_top_level_key(
    original: bytes, file: str, key: str, value: Mapping[str, Any], comment: Sequence[str]
) -> bytes:
    """`original` followed by `comment` and `key: value` as a block; raise BlockConflict if the
    file cannot take it (not UTF-8, not a block mapping, key present, settings would change)."""
    text = _decode(original, file)
    before = _load(text, file, "")
    if key in before:
        raise BlockConflict(ConfigIssue(file, key, f"{key!r} is already set"))
    newline = _line_ending(text)
    cut = _insertion_point(text, file)
    head, tail = text[:cut], text[cut:]
    if head and not head.endswith(("\n", "\r")):
        head += newline
    separator = [""] if head.strip() and not head.endswith(newline * 2) else []
    lines = [*separator, *(f"# {line}" if line else "#" for line in comment), f"{key}:"]
    lines.extend(_block_lines(value, 1))
    result = head + newline.join(lines) + newline + tail
    after = _load(result, file, " after adding the block")
    if after != {**before, key: _plain(value)}:
        raise BlockConflict(
            ConfigIssue(
                file,
                key,
                f"{key!r} added at the end of the file does not read back as written (the "
                "file's last lines, such as a '|+' block scalar, would take it in, or a value "
                "has no plain YAML form); add it by hand",
            )
        )
    return result.encode("utf-8")


def _line_ending(text: str) -> str:
    """The file's line break: CRLF, a lone CR (old Mac files) or LF."""
    if "\r\n" in text:
        return "\r\n"
    return "\r" if "\r" in text and "\n" not in text else "\n"


def _decode(original: bytes, file: str) -> str:
    try:
        return original.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BlockConflict(
            ConfigIssue(file, "", f"not UTF-8 text (byte {error.start}); cannot edit it safely")
        ) from None


def _load(text: str, file: str, when: str) -> dict[str, Any]:
    """The file's top-level mapping; a conflict if it is anything else."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise BlockConflict(ConfigIssue(file, "", f"invalid YAML{when}: {error}")) from None
    if not isinstance(data, dict):
        raise BlockConflict(ConfigIssue(file, "", "expected a mapping at the top level"))
    return data


def _insertion_point(text: str, file: str) -> int:
    """Where the block goes: the end of the text, or an explicit document end marker."""
    root_seen = False
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.MappingStartEvent) and not root_seen:
            root_seen = True
            if not event.flow_style:
                continue
            raise BlockConflict(
                ConfigIssue(
                    file,
                    "",
                    "the file is one flow-style mapping ('{...}'); a block cannot be added "
                    "to it: rewrite it in block style, or add the setting by hand",
                )
            )
        if isinstance(event, yaml.DocumentEndEvent) and event.explicit:
            return event.start_mark.index
    return len(text)


def _block_lines(value: Mapping[str, Any], depth: int) -> list[str]:
    """`key: scalar` lines (lists in flow style), nested mappings indented below their key."""
    lines: list[str] = []
    for key, item in value.items():
        prefix = f"{_INDENT * depth}{key}:"
        if isinstance(item, Mapping):
            lines.append(prefix)
            lines.extend(_block_lines(item, depth + 1))
        else:
            lines.append(f"{prefix} {_scalar(item)}")
    return lines


def _scalar(item: Any) -> str:
    """A YAML rendering of a string, number or list of them (JSON is valid YAML here)."""
    if isinstance(item, (list, tuple)):
        return "[" + ", ".join(_scalar(element) for element in item) + "]"
    if isinstance(item, bool) or item is None or isinstance(item, str):
        return json.dumps(item, ensure_ascii=False)
    if isinstance(item, int):
        return repr(item)
    if isinstance(item, float):
        text = repr(item)
        # YAML 1.1 reads "1e-05" as a string; a float needs a dot before its exponent.
        mantissa, exponent = text.partition("e")[::2]
        return f"{mantissa}.0e{exponent}" if exponent and "." not in mantissa else text
    raise TypeError(f"cannot write {type(item).__name__} values")


def _plain(value: Any) -> Any:
    """`value` as YAML would read it back: mappings as dicts, sequences as lists."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
