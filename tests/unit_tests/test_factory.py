"""LLMWrapperFactory: a wrapper per group of the repository's example configs."""

from __future__ import annotations

from pathlib import Path

from infrastructure.llm import LLMWrapperFactory, TaskGroupWrapper

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "llms"


def test_example_configs_give_a_wrapper_per_group() -> None:
    factory = LLMWrapperFactory.from_config_dir(REPO_CONFIGS)
    assert {"fast_group_wrapper", "thinking_group_wrapper"} <= set(factory.list_wrappers())
    fast = factory.get_wrapper("fast_group_wrapper")
    assert isinstance(fast, TaskGroupWrapper)
    assert [t.name for t in fast.plan.targets] == [
        "fast_group.echelon1",
        "fast_group.echelon2",
        "fast_group.echelon3",
    ]
