"""The example configuration shipped in the package (configs/llms in a clone links to it)
loads, says what the seed says, and keeps paid APIs opt-in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from infrastructure.llm.config import LLMConfig, load_config_dir
from infrastructure.llm.example_config import EXAMPLE_CONFIG_DIR as CONFIG_DIR


@pytest.fixture
def config() -> LLMConfig:
    """The example configuration loaded with no environment variables set."""
    return load_config_dir(CONFIG_DIR, env={})


def test_registry_defines_the_seed_models(config: LLMConfig) -> None:
    assert sorted(config.models) == [
        "anthropic-claude-3-opus",
        "local-llama",
        "local-qwen",
        "mock-echo",
        "openai-gpt4",
    ]
    gpt4 = config.models["openai-gpt4"]
    assert (gpt4.provider, gpt4.model, gpt4.base_url) == (
        "openai",
        "gpt-4o",
        "http://127.0.0.1:8020/v1",
    )
    assert gpt4.api_key is not None and gpt4.api_key.get_secret_value() == "sk-unset"
    assert config.models["mock-echo"].provider == "mock"


def test_vllm_fleet_has_three_instances(config: LLMConfig) -> None:
    instances = config.models["local-qwen"].instances()
    assert [i.instance_id for i in instances] == [
        "local-qwen#vllm-1",
        "local-qwen#vllm-2",
        "local-qwen#vllm-3",
    ]
    assert [i.base_url for i in instances] == [
        "http://127.0.0.1:8001/v1",
        "http://127.0.0.1:8002/v1",
        "http://127.0.0.1:8003/v1",
    ]


def test_fast_group_matches_the_seed(config: LLMConfig) -> None:
    group = config.groups["fast_group"]
    assert group.echelon_names() == ["echelon1", "echelon2", "echelon3"]
    first = group.echelons[1]
    assert first.models == ["openai-gpt4", "anthropic-claude-3-opus"]
    assert (first.concurrency_limit, first.rpm_limit, first.priority) == (10, 100, 1)
    assert (first.timeout, first.max_retries, first.temperature, first.max_tokens) == (
        30,
        3,
        0.7,
        2000,
    )
    assert group.echelons[2].models == ["local-qwen"]
    assert group.echelons[3].models == ["mock-echo"]
    fallback = group.fallback_config
    assert fallback.strategy == "echelon_down"
    assert fallback.fallback_groups == ["fast_group.echelon2", "fast_group.echelon3"]
    assert (fallback.max_attempts, fallback.retry_delay) == (3, 1.0)
    breaker = fallback.circuit_breaker
    assert (breaker.failure_threshold, breaker.recovery_time, breaker.half_open_requests) == (
        5,
        60,
        1,
    )


def test_thinking_group_switches_to_fast_group(config: LLMConfig) -> None:
    group = config.groups["thinking_group"]
    assert group.echelons[1].models == ["local-llama"]
    assert group.fallback_config.strategy == "task_group_switch"
    assert group.fallback_config.fallback_groups == ["fast_group"]


def test_environment_overrides_the_defaults() -> None:
    config = load_config_dir(
        CONFIG_DIR,
        env={
            "VLLM_URL_2": "http://10.1.2.3:8000/v1",
            "LLM_WRAPPERS_OPENAI_URL": "https://api.openai.com/v1",
            "LLM_WRAPPERS_OPENAI_KEY": "sk-from-env",
        },
    )
    qwen = config.models["local-qwen"].instances()
    assert qwen[1].base_url == "http://10.1.2.3:8000/v1"
    gpt4 = config.models["openai-gpt4"]
    assert gpt4.base_url == "https://api.openai.com/v1"
    assert gpt4.api_key is not None and gpt4.api_key.get_secret_value() == "sk-from-env"


def test_provider_keys_in_the_environment_reach_no_paid_api() -> None:
    """A shell that holds the usual provider variables leaves every instance on loopback (or
    in-process), and sends none of those keys anywhere."""
    config = load_config_dir(
        CONFIG_DIR,
        env={
            "OPENAI_API_KEY": "sk-real-openai",
            "OPENAI_BASE_URL": "https://api.openai.com/v1",
            "ANTHROPIC_API_KEY": "sk-real-anthropic",
        },
    )
    for model in config.models.values():
        for instance in model.instances():
            if model.provider == "mock":
                continue
            assert urlsplit(instance.base_url).hostname == "127.0.0.1", instance.instance_id
            key = instance.api_key.get_secret_value() if instance.api_key else ""
            assert not key.startswith("sk-real"), instance.instance_id


def test_config_dir_given_as_text_is_remembered(config: LLMConfig) -> None:
    assert load_config_dir(str(CONFIG_DIR), env={}).source_dir == CONFIG_DIR
