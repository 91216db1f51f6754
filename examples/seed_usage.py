"""The usage the design document shows: factory, task group wrapper, pool wrapper, LLM node.

Runs against `configs/llms` with its endpoints pointed at three simulated instances (one
dead, one flaky, one healthy), so it needs no model server:

    python examples/seed_usage.py
"""

from __future__ import annotations

import asyncio

from langchain_core.messages import HumanMessage

from infrastructure.demo import environment, simulated_fleet
from infrastructure.graph.nodes.llm_node import LLMNode
from infrastructure.llm import (
    EnhancedFallbackManager,
    LLMWrapperFactory,
    PollingPoolManager,
    TaskGroupManager,
)
from infrastructure.llm.providers.mock import MockChatModel


async def main() -> None:
    # 1. Managers and the wrapper factory.
    task_group_manager = TaskGroupManager.from_config_dir("configs/llms")
    polling_pool_manager = PollingPoolManager(task_group_manager)
    fallback_manager = EnhancedFallbackManager(task_group_manager)
    wrapper_factory = LLMWrapperFactory(
        task_group_manager=task_group_manager,
        polling_pool_manager=polling_pool_manager,
        fallback_manager=fallback_manager,
    )

    # 2. A task group wrapper and a polling pool wrapper.
    fast_wrapper = wrapper_factory.create_task_group_wrapper(
        name="fast_wrapper",
        config={
            "target": "fast_group.echelon1",
            "fallback_groups": ["fast_group.echelon2", "fast_group.echelon3"],
        },
    )
    pool_wrapper = wrapper_factory.create_polling_pool_wrapper(
        name="fast_pool_wrapper", config={"max_instance_attempts": 4}
    )
    messages = [HumanMessage(content="Hello, please introduce yourself")]
    response = await fast_wrapper.ainvoke(messages)
    print("task group:", response.content, "<-", response.response_metadata["routing"]["instance"])
    response = await pool_wrapper.ainvoke(messages)
    print("pool:", response.content, "<-", response.response_metadata["routing"]["instance"])

    # 3. An LLM node that picks its model by name.
    llm_node = LLMNode(llm_client=MockChatModel(), wrapper_factory=wrapper_factory)
    state = {"messages": [HumanMessage(content="What is a polling pool?")]}
    result = llm_node.execute(
        state, {"llm_wrapper": "fast_wrapper", "system_prompt": "You are a helpful assistant"}
    )
    print("node:", result["messages"][0].content)

    # 4. Statistics and health.
    stats = fast_wrapper.get_stats()
    print(f"fast_wrapper: {stats['successful_requests']}/{stats['total_requests']} answered")
    factory_stats = wrapper_factory.get_wrapper_stats()
    print(f"wrappers: {factory_stats['total_wrappers']} {factory_stats['wrapper_types']}")
    pool_health = await pool_wrapper.ahealth_check()
    print(f"pool health: {pool_health['healthy_instances']}/{pool_health['total_instances']}")


if __name__ == "__main__":
    with simulated_fleet() as fleet, environment(fleet):
        asyncio.run(main())
