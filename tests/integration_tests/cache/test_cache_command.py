"""`llm-wrappers cache stats|clear`: entries of a Redis cache counted and dropped, per
namespace; memory caches named as living in each process."""

from __future__ import annotations

from pathlib import Path

import yaml

from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from conftest import RunCli, StartSim, openai_model, write_config


def fleet(root: Path, url: str, redis_url: str, key_prefix: str) -> Path:
    """Groups `a` and `b` caching in Redis under namespaces `na` and `nb`; `c` in memory."""
    groups = {
        name: {"echelon1": {"models": ["m"]}, "cache": cache}
        for name, cache in {
            "a": {"backend": "redis", "namespace": "na"},
            "b": {"backend": "redis", "namespace": "nb"},
            "c": {},
        }.items()
    }
    directory = write_config(root / "llms", {"m": openai_model(url)}, groups)
    state = {"backend": "redis", "url": redis_url, "key_prefix": key_prefix}
    (directory / "state.yaml").write_text(yaml.safe_dump(state))
    return directory


def test_stats_count_and_clear_drops_one_namespace(
    tmp_path: Path, start_sim: StartSim, redis_url: str, key_prefix: str, cli: RunCli
) -> None:
    directory = fleet(tmp_path, start_sim("healthy").base_url, redis_url, key_prefix)
    with LLMWrapperFactory.from_config_dir(directory) as replica:
        for prompt in ("one", "two"):
            replica.get_wrapper("a_wrapper").invoke(prompt)
        replica.get_wrapper("b_wrapper").invoke("three")

        outcome = cli("--config-dir", str(directory), "cache", "stats")
        assert outcome.code == 0, outcome.err
        rows = {line.split()[0]: line.split() for line in outcome.out.splitlines()[1:]}
        assert rows["a_wrapper"][1:] == ["exact", redis_url, "na", "2"]
        assert rows["b_wrapper"][1:] == ["exact", redis_url, "nb", "1"]
        assert rows["c_wrapper"][1:4] == ["exact", "memory", "default"]

        outcome = cli("--config-dir", str(directory), "cache", "clear", "--namespace", "na")
        assert outcome.code == 0, outcome.err
        assert outcome.out == f"namespace 'na' ({redis_url}): cleared 2 entries\n"
        hit = replica.get_wrapper("b_wrapper").invoke("three").response_metadata["routing"]
        assert hit["cache_hit"] == "exact"  # the other namespace kept its entry
        miss = replica.get_wrapper("a_wrapper").invoke("one").response_metadata["routing"]
        assert miss["cache_hit"] is False


def test_a_namespace_no_cache_uses_is_an_error(
    tmp_path: Path, start_sim: StartSim, redis_url: str, key_prefix: str, cli: RunCli
) -> None:
    directory = fleet(tmp_path, start_sim("healthy").base_url, redis_url, key_prefix)
    outcome = cli("--config-dir", str(directory), "cache", "clear", "--namespace", "zz")
    assert outcome.code == 1
    assert "has a cache in namespace 'zz'" in outcome.err
