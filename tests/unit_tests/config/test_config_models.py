"""The model registry: instances and inheritance, provider rules, registry file shape."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from infrastructure.llm.config import EndpointConfig, LLMConfig, ModelConfig
from infrastructure.llm.errors import ConfigIssue

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Issues = Callable[..., list[ConfigIssue]]
Load = Callable[..., LLMConfig]


def test_model_without_endpoints_is_one_instance() -> None:
    model = ModelConfig(
        name="m", provider="openai", model="gpt", base_url="http://h/v1", api_key=SecretStr("k")
    )
    [instance] = model.instances()
    assert (instance.instance_id, instance.base_url, instance.weight) == ("m#0", "http://h/v1", 1.0)
    assert instance.api_key == SecretStr("k")


def test_endpoints_inherit_url_and_key_and_get_stable_ids() -> None:
    model = ModelConfig(
        name="fleet",
        provider="openai",
        model="qwen",
        base_url="http://shared/v1",
        api_key=SecretStr("model-key"),
        endpoints=[
            EndpointConfig(base_url="http://a/v1", name="gpu-a", weight=2),
            EndpointConfig(api_key=SecretStr("own-key")),
        ],
    )
    first, second = model.instances()
    assert (first.instance_id, first.base_url, first.weight) == ("fleet#gpu-a", "http://a/v1", 2.0)
    assert first.api_key == SecretStr("model-key")
    assert (second.instance_id, second.base_url) == ("fleet#1", "http://shared/v1")
    assert second.api_key == SecretStr("own-key")
    assert [i.instance_id for i in model.instances()] == ["fleet#gpu-a", "fleet#1"]


def test_mock_model_needs_no_url() -> None:
    [instance] = ModelConfig(name="m", provider="mock", model="echo").instances()
    assert instance.base_url is None and instance.api_key is None


def test_config_objects_are_immutable() -> None:
    model = ModelConfig(name="m", provider="mock", model="echo")
    with pytest.raises(ValidationError):
        model.model = "other"  # type: ignore[misc]


def test_openai_model_without_base_url_is_rejected(write: Write, issue: Issue) -> None:
    path = write("models/m.yaml", "models:\n  m: {provider: openai, model: gpt-4o}\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "models.m.base_url")
    assert found.message == (
        "provider 'openai' needs a base_url, on the model or on every endpoint"
    )


def test_openai_endpoint_without_base_url_is_rejected(write: Write, issue: Issue) -> None:
    write(
        "models/m.yaml",
        """
        models:
          m:
            provider: openai
            model: gpt-4o
            endpoints:
              - base_url: http://a/v1
              - name: b
        """,
    )
    found = issue()
    assert found.path == "models.m.endpoints[1].base_url"
    assert "needs a base_url here, since the model sets none" in found.message


def test_base_url_must_be_http(write: Write, issue: Issue) -> None:
    write("models/m.yaml", "models:\n  m: {provider: openai, model: x, base_url: ftp://h}\n")
    found = issue()
    assert found.path == "models.m.base_url"
    assert found.message == (
        "expected an http:// or https:// URL such as http://127.0.0.1:8000/v1, got 'ftp://h'"
    )


def test_unknown_provider_lists_allowed_ones(write: Write, issue: Issue) -> None:
    write("models/m.yaml", "models:\n  m: {provider: cohere, model: x}\n")
    found = issue()
    assert found.path == "models.m.provider"
    assert (
        found.message == "unknown value 'cohere'; expected one of 'openai', 'anthropic' or 'mock'"
    )


def test_duplicate_endpoint_names_are_rejected(write: Write, issue: Issue) -> None:
    write(
        "models/m.yaml",
        """
        models:
          m:
            provider: mock
            model: echo
            endpoints: [{name: a}, {name: a}]
        """,
    )
    found = issue()
    assert found.path == "models.m.endpoints[1].name"
    assert "instance id 'm#a' is already used" in found.message


def test_params_may_not_carry_fields_of_their_own(write: Write, issue: Issue) -> None:
    write("models/m.yaml", "models:\n  m: {provider: mock, model: x, params: {api_key: k}}\n")
    found = issue()
    assert found.path == "models.m.params.api_key"
    assert found.message == "'api_key' is a field of the model itself; set it outside params"


def test_non_positive_endpoint_weight_is_rejected(write: Write, issue: Issue) -> None:
    write("models/m.yaml", "models:\n  m: {provider: mock, model: x, endpoints: [{weight: 0}]}\n")
    found = issue()
    assert (found.path, found.message) == (
        "models.m.endpoints[0].weight",
        "expected a number > 0, got 0",
    )


def test_unknown_model_field_lists_allowed_fields(write: Write, issue: Issue) -> None:
    write("models/m.yaml", "models:\n  m: {provider: mock, model: x, temprature: 1}\n")
    found = issue()
    assert found.path == "models.m.temprature"
    assert found.message == (
        "unknown field 'temprature'; allowed fields: "
        "name, kind, provider, model, base_url, api_key, params, endpoints, async_transport"
    )


def test_registry_file_needs_a_models_mapping(write: Write, issues: Issues) -> None:
    path = write("models/m.yaml", "modles:\n  m: {provider: mock, model: x}\n")
    assert [(i.file, i.path, i.message) for i in issues()] == [
        (str(path), "modles", "unknown top-level key 'modles'; allowed: models"),
        (str(path), "models", "expected a mapping of model name to settings; it is missing"),
    ]


def test_model_entry_must_be_a_mapping(write: Write, issue: Issue) -> None:
    write("models/m.yaml", "models:\n  m: gpt-4o\n")
    found = issue()
    assert (found.path, found.message) == ("models.m", "expected a mapping, got 'gpt-4o'")


def test_name_inside_entry_must_match_its_key(write: Write, issue: Issue) -> None:
    write("models/m.yaml", "models:\n  m: {name: other, provider: mock, model: x}\n")
    found = issue()
    assert (found.path, found.message) == ("models.m.name", "differs from its key 'm'; omit name")


def test_model_defined_in_two_files_is_rejected(write: Write, issue: Issue) -> None:
    first = write("models/a.yaml", "models:\n  m: {provider: mock, model: x}\n")
    second = write("models/b.yaml", "models:\n  m: {provider: mock, model: y}\n")
    found = issue()
    assert (found.file, found.path) == (str(second), "models.m")
    assert found.message == (f"model 'm' is already defined in {first}; model names must be unique")


def test_an_openai_model_chooses_its_async_transport(write: Write, load: Load) -> None:
    write(
        "models/m.yaml",
        "models:\n  m: {provider: openai, model: x, base_url: 'http://a/v1',"
        " async_transport: httpx}\n",
    )
    assert load().models["m"].async_transport == "httpx"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{provider: openai, model: x, base_url: 'http://a/v1', async_transport: curl}",
            "unknown value 'curl'; expected one of 'aiohttp' or 'httpx'",
        ),
        (
            "{provider: mock, model: x, async_transport: httpx}",
            "only provider 'openai' has a choice of transport, not 'mock'",
        ),
    ],
)
def test_an_async_transport_that_cannot_be_used_is_rejected(
    write: Write, issue: Issue, entry: str, message: str
) -> None:
    path = write("models/m.yaml", f"models:\n  m: {entry}\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "models.m.async_transport")
    assert message in found.message
