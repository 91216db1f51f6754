"""`cache:` sections in group and pool files: validated like every other section, and checked
against the registry and state.yaml, each error naming file and field."""

from __future__ import annotations

from pathlib import Path

from infrastructure.llm.config.schema import CacheConfig

from .conftest import REGISTRY
from .test_config_embeddings import Issue, Load, Write

EMBEDDINGS = (
    REGISTRY
    + """
  vectors:
    kind: embeddings
    provider: mock
    model: hashed
"""
)


def group(cache: str) -> str:
    return f"name: g\nechelon1: {{models: [alpha]}}\ncache:\n{cache}"


def test_a_cache_section_is_read_with_its_defaults(write: Write, load: Load) -> None:
    write("models/registry.yaml", EMBEDDINGS)
    write("groups/g.yaml", group("  mode: semantic\n  embeddings: vectors\n"))
    cache = load().groups["g"].cache
    assert cache == CacheConfig(mode="semantic", embeddings="vectors")
    assert (cache.ttl, cache.max_entries, cache.namespace) == (3600.0, 10_000, "default")
    assert (cache.similarity_threshold, cache.max_candidates) == (0.8, 5)
    assert cache.include_sampled is False and cache.compress is True


def test_bad_values_name_file_and_field(write: Write, issue: Issue) -> None:
    write("models/registry.yaml", EMBEDDINGS)
    path = write("groups/g.yaml", group("  similarity_threshold: 1.5\n"))
    found = issue()
    assert (found.file, found.path) == (str(path), "cache.similarity_threshold")
    assert found.message == "expected a number <= 1, got 1.5"


def test_semantic_mode_needs_an_embeddings_model(write: Write, issue: Issue) -> None:
    write("models/registry.yaml", EMBEDDINGS)
    write("groups/g.yaml", group("  mode: semantic\n"))
    found = issue()
    assert found.path == "cache.embeddings"
    assert "mode 'semantic' needs embeddings" in found.message


def test_the_embeddings_model_must_be_one(write: Write, issue: Issue) -> None:
    write("models/registry.yaml", EMBEDDINGS)
    path = write("groups/g.yaml", group("  mode: semantic\n  embeddings: alpha\n"))
    found = issue()
    assert (found.file, found.path) == (str(path), "cache.embeddings")
    assert found.message == (
        "model 'alpha' is a chat model; name a registry model with kind: embeddings"
    )
    write("groups/g.yaml", group("  mode: semantic\n  embeddings: vector\n"))
    assert "unknown model 'vector'" in issue().message


def test_a_redis_cache_needs_a_url_here_or_in_state_yaml(
    config_dir: Path, write: Write, issue: Issue, load: Load
) -> None:
    write("models/registry.yaml", REGISTRY)
    (config_dir / "polling_pools").mkdir()
    path = write("polling_pools/p.yaml", "name: p\ntask_groups: [g]\ncache: {backend: redis}\n")
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha]}\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "cache.url")
    write("state.yaml", "backend: redis\nurl: redis://127.0.0.1:6379/0\n")
    assert load().pools["p"].cache.backend == "redis"
