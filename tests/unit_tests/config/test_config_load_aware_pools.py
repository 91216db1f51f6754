"""Config of the load-aware rotations: the pool keys' defaults and validation, and an
endpoint's metrics_url."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infrastructure.llm.config import LLMConfig
from infrastructure.llm.errors import ConfigIssue

Write = Callable[[str, str], Path]


@pytest.fixture(autouse=True)
def _group(config_dir: Path, registry: Path, write: Write) -> None:
    (config_dir / "polling_pools").mkdir()
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha, beta]}\n")


def test_defaults(write: Write, load: Callable[..., LLMConfig]) -> None:
    write("polling_pools/p.yaml", "name: p\ntask_groups: [g]\nrotation_strategy: least_loaded\n")
    pool = load().pools["p"]
    assert pool.rotation_strategy == "least_loaded"
    assert (pool.metrics_interval, pool.waiting_weight) == (2.0, 2.0)
    assert (pool.load_factor, pool.affinity_prefix_chars) == (1.25, 2048)


def test_tuning_is_read(write: Write, load: Callable[..., LLMConfig]) -> None:
    write(
        "polling_pools/p.yaml",
        "name: p\ntask_groups: [g]\nrotation_strategy: prefix_affinity\n"
        "load_factor: 1.5\naffinity_prefix_chars: 512\nmetrics_interval: 0.5\n"
        "waiting_weight: 0\n",
    )
    pool = load().pools["p"]
    assert (pool.load_factor, pool.affinity_prefix_chars) == (1.5, 512)
    assert (pool.metrics_interval, pool.waiting_weight) == (0.5, 0.0)


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("load_factor: 0.9", "load_factor", "expected a number >= 1, got 0.9"),
        ("affinity_prefix_chars: 0", "affinity_prefix_chars", ">= 1, got 0"),
        ("affinity_prefix_chars: many", "affinity_prefix_chars", "integer"),
        ("metrics_interval: 0", "metrics_interval", "expected a number > 0, got 0"),
        ("waiting_weight: -1", "waiting_weight", "expected a number >= 0, got -1"),
        ("waiting_weight: yes", "waiting_weight", "booleans"),
    ],
)
def test_bad_values_name_file_and_field(
    write: Write, issue: Callable[..., ConfigIssue], line: str, field: str, message: str
) -> None:
    path = write("polling_pools/p.yaml", f"name: p\ntask_groups: [g]\n{line}\n")
    found = issue()
    assert (found.file, found.path) == (str(path), field)
    assert message in found.message


def test_endpoint_metrics_url_is_kept_and_checked(
    write: Write, load: Callable[..., LLMConfig], issue: Callable[..., ConfigIssue]
) -> None:
    registry = (
        "models:\n  alpha: {provider: mock, model: echo}\n"
        "  beta:\n    provider: openai\n    model: m\n    api_key: k\n    endpoints:\n"
        "      - {base_url: 'http://127.0.0.1:1/v1', metrics_url: 'http://127.0.0.1:9/prom'}\n"
        "      - {base_url: 'http://127.0.0.1:2/v1'}\n"
    )
    write("models/registry.yaml", registry)
    instances = load().models["beta"].instances()
    assert [i.metrics_url for i in instances] == ["http://127.0.0.1:9/prom", None]
    path = write("models/registry.yaml", registry.replace("http://127.0.0.1:9/prom", "prom"))
    found = issue()
    assert (found.file, found.path) == (str(path), "models.beta.endpoints[0].metrics_url")
