"""`${VAR}` / `${VAR:-default}` expansion, alone and through the loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infrastructure.llm.config import LLMConfig
from infrastructure.llm.config.env import expand_env
from infrastructure.llm.errors import ConfigIssue

Write = Callable[[str, str], Path]


def test_set_variable_is_substituted_inside_text() -> None:
    data, issues = expand_env({"url": "http://${HOST}:8000/v1"}, {"HOST": "gpu7"}, "f.yaml")
    assert data == {"url": "http://gpu7:8000/v1"}
    assert issues == []


def test_default_is_used_when_unset_or_empty() -> None:
    data, issues = expand_env(["${A:-one}", "${B:-two}", "${C:-}"], {"B": ""}, "f.yaml")
    assert data == ["one", "two", ""]
    assert issues == []


def test_set_variable_wins_over_default() -> None:
    data, _ = expand_env("${A:-one}", {"A": "mine"}, "f.yaml")
    assert data == "mine"


def test_expansion_reaches_nested_values_and_leaves_other_types_alone() -> None:
    data, _ = expand_env({"a": [{"b": "${X}"}], "n": 3, "t": True, "k": None}, {"X": "x"}, "f")
    assert data == {"a": [{"b": "x"}], "n": 3, "t": True, "k": None}


def test_double_dollar_escapes_a_placeholder() -> None:
    data, issues = expand_env("$${HOME} is ${HOME}", {"HOME": "/root"}, "f.yaml")
    assert data == "${HOME} is /root"
    assert issues == []


def test_values_from_the_environment_are_not_expanded_again() -> None:
    data, issues = expand_env("${A}", {"A": "${B}"}, "f.yaml")
    assert data == "${B}"
    assert issues == []


def test_unset_variable_without_default_is_an_issue_with_field_path() -> None:
    _, issues = expand_env({"models": {"m": {"endpoints": [{"api_key": "${KEY}"}]}}}, {}, "r.yaml")
    assert issues == [
        ConfigIssue(
            "r.yaml",
            "models.m.endpoints[0].api_key",
            "environment variable KEY is not set and has no default; "
            "set it, or write ${KEY:-default} to give one",
        )
    ]


def test_loader_expands_from_the_given_environment(
    write: Write, load: Callable[..., LLMConfig]
) -> None:
    write(
        "models/m.yaml",
        """
        models:
          m:
            provider: openai
            model: ${MODEL_ID:-gpt-4o}
            base_url: ${BASE_URL}
            api_key: ${KEY:-sk-default}
        """,
    )
    config = load({"BASE_URL": "http://10.0.0.5:8000/v1"})
    model = config.models["m"]
    assert (model.model, model.base_url) == ("gpt-4o", "http://10.0.0.5:8000/v1")
    assert model.api_key is not None and model.api_key.get_secret_value() == "sk-default"


def test_loader_numbers_from_the_environment_are_validated_as_numbers(
    write: Write, registry: Path, load: Callable[..., LLMConfig]
) -> None:
    write(
        "groups/g.yaml",
        """
        name: g
        echelon1:
          models: [alpha]
          timeout: ${G_TIMEOUT:-12.5}
        """,
    )
    assert load().groups["g"].echelons[1].timeout == 12.5


def test_loader_reports_unset_variable_once_with_file_and_path(
    write: Write, issue: Callable[..., ConfigIssue]
) -> None:
    path = write(
        "models/m.yaml",
        """
        models:
          m:
            provider: openai
            model: gpt-4o
            base_url: ${VLLM_URL}
        """,
    )
    found = issue()
    assert (found.file, found.path) == (str(path), "models.m.base_url")
    assert "VLLM_URL is not set and has no default" in found.message
