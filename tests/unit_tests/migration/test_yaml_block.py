"""append_top_level_key: the original bytes stay untouched and the new block reads back exactly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import yaml

from infrastructure.llm.migration.yaml_block import BlockConflict, append_top_level_key

FILE = "groups/chat.yaml"
KEY = "fallback"
VALUE = {"chain": ["a", "b"], "timeout": 30}


def append(
    original: bytes,
    value: Mapping[str, Any] = VALUE,
    comment: Sequence[str] = ("added by migrate",),
    key: str = KEY,
) -> bytes:
    return append_top_level_key(original, FILE, key, value, comment)


def conflict(original: bytes, value: Mapping[str, Any] = VALUE) -> BlockConflict:
    with pytest.raises(BlockConflict) as info:
        append(original, value)
    return info.value


def test_original_bytes_are_an_exact_prefix_and_keys_keep_order() -> None:
    original = (
        b"# Chat group\n"
        b"\n"
        b"name: chat   # the group name\n"
        b"models:\n"
        b"  - gpt   # first\n"
        b"  - claude\n"
        b"\n"
        b"# retries\n"
        b"retries: 3\n"
    )
    result = append(original)

    assert result.startswith(original)
    data = yaml.safe_load(result)
    assert list(data) == ["name", "models", "retries", KEY]
    assert data == {**yaml.safe_load(original), KEY: VALUE}


def test_crlf_file_gets_crlf_line_breaks_only() -> None:
    original = b"name: chat\r\nretries: 3\r\n"
    result = append(original)

    assert result.startswith(original)
    assert result.count(b"\n") == result.count(b"\r\n")
    assert result.endswith(b"\r\n")
    assert yaml.safe_load(result)[KEY] == VALUE


def test_missing_trailing_newline_is_added_before_the_block() -> None:
    original = b"name: chat\nretries: 3"
    result = append(original)

    assert result.startswith(original + b"\n")
    assert b"retries: 3\n" in result
    assert yaml.safe_load(result) == {"name": "chat", "retries": 3, KEY: VALUE}


def test_block_goes_before_explicit_document_end() -> None:
    original = b"---\nname: chat\n...\n"
    result = append(original)

    assert result.startswith(b"---\nname: chat\n")
    assert result.endswith(b"\n...\n")
    assert result.count(b"...") == 1
    assert result.index(KEY.encode()) < result.index(b"...")
    assert yaml.safe_load(result) == {"name": "chat", KEY: VALUE}


def test_flow_style_root_is_a_conflict() -> None:
    issue = conflict(b"{name: g}\n").issue

    assert issue.file == FILE
    assert "flow-style" in issue.message


def test_nested_flow_mapping_is_fine() -> None:
    original = b"a: {b: 1}\n"
    result = append(original)

    assert result.startswith(original)
    assert yaml.safe_load(result) == {"a": {"b": 1}, KEY: VALUE}


def test_keep_chomping_block_scalar_at_end_is_a_conflict() -> None:
    issue = conflict(b"name: chat\nprompt: |+\n  hello\n").issue

    assert issue.file == FILE
    assert "does not read back as written" in issue.message


def test_literal_block_scalar_at_end_keeps_its_value() -> None:
    original = b"name: chat\nprompt: |\n  hello\n  world\n"
    result = append(original)

    assert result.startswith(original)
    data = yaml.safe_load(result)
    assert data["prompt"] == "hello\nworld\n"
    assert data[KEY] == VALUE


def test_key_already_present_is_a_conflict() -> None:
    issue = conflict(b"name: chat\nfallback: {}\n").issue

    assert issue.path == KEY
    assert issue.file == FILE


def test_non_utf8_is_a_conflict() -> None:
    issue = conflict(b"name: caf\xe9\n").issue

    assert "UTF-8" in issue.message
    assert issue.file == FILE


def test_top_level_list_is_a_conflict() -> None:
    issue = conflict(b"- a\n- b\n").issue

    assert "mapping" in issue.message


@pytest.mark.parametrize(
    "item",
    [
        "plain",
        "héllo wörld ✓",
        "say \"hi\" and 'bye'",
        "host: port",
        "#not a comment",
        "123",
        "yes",
        "null",
        "",
        7,
        -3,
        0.5,
        1e-05,
        60.0,
        True,
        None,
        ["a", "b: c", "ü"],
        [],
        {"inner": {"deep": "x", "n": 2}},
    ],
)
def test_values_round_trip_with_their_types(item: Any) -> None:
    result = append(b"name: chat\n", {"v": item})
    loaded = yaml.safe_load(result)[KEY]["v"]

    assert loaded == item
    assert type(loaded) is type(item)


def test_float_types_survive_inside_lists_and_mappings() -> None:
    value = {"rates": {"low": 1e-05, "high": 60.0}, "names": ["x"]}
    loaded = yaml.safe_load(append(b"a: 1\n", value))[KEY]

    assert loaded == value
    assert isinstance(loaded["rates"]["low"], float)
    assert isinstance(loaded["rates"]["high"], float)


def test_comment_lines_go_above_the_key() -> None:
    result = append(b"name: chat\n", comment=["first line", "", "last line"])
    lines = result.decode().splitlines()
    at = lines.index(f"{KEY}:")

    assert lines[at - 3 : at] == ["# first line", "#", "# last line"]
