"""API keys never show up in reprs, error messages or pydantic errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from infrastructure.llm.config import LLMConfig, ModelConfig, load_config_dir
from infrastructure.llm.errors import ConfigError, ConfigIssue

Write = Callable[[str, str], Path]
Issues = Callable[..., list[ConfigIssue]]
Load = Callable[..., LLMConfig]

SECRET = "sk-live-DO-NOT-PRINT-1234"


def test_repr_and_instances_hide_the_key(write: Write, load: Load) -> None:
    write(
        "models/m.yaml",
        f"""
        models:
          m:
            provider: openai
            model: gpt-4o
            base_url: http://h/v1
            api_key: {SECRET}
            endpoints: [{{name: a}}, {{api_key: {SECRET}-2}}]
        """,
    )
    config = load()
    model = config.models["m"]
    shown = [repr(config), str(config), repr(model.instances()), model.model_dump_json()]
    assert not any(SECRET in text for text in shown)
    assert model.api_key is not None and model.api_key.get_secret_value() == SECRET


def test_key_from_environment_is_hidden(write: Write, load: Load) -> None:
    write("models/m.yaml", "models:\n  m: {provider: mock, model: x, api_key: '${KEY}'}\n")
    config = load({"KEY": SECRET})
    assert SECRET not in repr(config)


def test_error_elsewhere_does_not_print_the_key(write: Write, config_dir: Path) -> None:
    write(
        "models/m.yaml",
        f"""
        models:
          m:
            provider: openai
            model: gpt-4o
            base_url: http://h/v1
            api_key: {SECRET}
            endpoints: {{base_url: http://a/v1, api_key: {SECRET}}}
          n:
            provider: mock
            model: x
            api_key: [{SECRET}]
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_config_dir(config_dir, env={})
    assert [issue.path for issue in caught.value.issues] == [
        "models.m.endpoints",
        "models.n.api_key",
    ]
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.issues)


def test_wrong_type_in_a_secret_field_is_not_echoed(write: Write, issues: Issues) -> None:
    write("models/m.yaml", "models:\n  m: {provider: mock, model: x, api_key: 123456789}\n")
    [found] = issues()
    assert found.path == "models.m.api_key"
    assert "123456789" not in found.message
    assert "not shown (secret field)" in found.message


def test_yaml_syntax_error_does_not_quote_the_line(write: Write, issues: Issues) -> None:
    write("models/m.yaml", f'models:\n  m: {{api_key: "{SECRET}\n')
    [found] = issues()
    assert found.message.startswith("invalid YAML at line")
    assert SECRET not in found.message


def test_pydantic_errors_built_in_code_hide_input() -> None:
    with pytest.raises(ValidationError) as caught:
        ModelConfig(name="m", provider="bogus", model="x", api_key=SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as nested:
        ModelConfig(name="m", provider="mock", model="x", endpoints={"api_key": SECRET})  # type: ignore[arg-type]
    assert SECRET not in str(caught.value)
    assert SECRET not in str(nested.value)
