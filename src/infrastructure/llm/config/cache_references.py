"""Checks of `cache:` sections against the rest of the directory: a semantic cache names an
embeddings model of the registry, a Redis cache has a URL (its own or `state.yaml`'s), and
what each needs is installed."""

from __future__ import annotations

from collections.abc import Iterable

from infrastructure.llm.config.definitions import Definitions
from infrastructure.llm.config.extras import missing_extra
from infrastructure.llm.config.references import embeddings_model_problem
from infrastructure.llm.config.schema import CacheConfig, ModelConfig, StateConfig
from infrastructure.llm.errors import ConfigIssue


def check_cache_sections(
    sections: Iterable[tuple[str, CacheConfig]],
    models: Definitions[ModelConfig],
    state: StateConfig | None,
) -> list[ConfigIssue]:
    """The issues of each (file, section), each naming its `cache.<field>`."""
    issues: list[ConfigIssue] = []
    for file, cache in sections:
        issues.extend(
            ConfigIssue(file, f"cache.{f}", m) for f, m in _problems(cache, models, state)
        )
    return issues


def _problems(
    cache: CacheConfig, models: Definitions[ModelConfig], state: StateConfig | None
) -> Iterable[tuple[str, str]]:
    if cache.mode == "semantic":
        missing = missing_extra("numpy", "semantic", "mode 'semantic'")
        if missing:
            yield "mode", missing
        name = cache.embeddings
        if name is not None and None not in models.unread and name not in models.unread:
            problem = embeddings_model_problem(name, models.valid)
            if problem is not None:
                yield "embeddings", problem
    if cache.backend == "redis":
        missing = missing_extra("redis", "redis", "backend 'redis'")
        if missing:
            yield "backend", missing
        if cache.url is None and (state is None or state.url is None):
            yield "url", "backend 'redis' needs a url: set one here, or a url in state.yaml"
