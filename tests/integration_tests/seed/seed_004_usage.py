# ruff: noqa: I001  (the imports keep the seed's order)
"""Seed 004's usage example ("使用示例", "监控和统计", "日志调试", "编程方式迁移"), transcribed.

Every line of the seed's code blocks is here, in the seed's order; only the edits that
docs/porting.md lists were made, each marked `# port:`. Lines marked `# given:` define what
the seed uses without defining (`config_loader`, `default_client`, the imports of
`HumanMessage` and `logging`) and the `async def main()` the seed's `await`s need.

    python seed_004_usage.py <config dir> <base URL of an OpenAI-compatible server>
"""

import asyncio  # given: the seed's awaits run inside asyncio.run(main())
import logging  # given
import sys  # given

from langchain_core.messages import HumanMessage  # given
from langchain_openai import ChatOpenAI  # given: for default_client

from infrastructure.llm.config import load_config_dir  # given: for config_loader

# --- 使用示例 1. 创建包装器工厂 ---
from infrastructure.llm.wrappers import LLMWrapperFactory  # port: no `src.` prefix
from infrastructure.llm.task_group_manager import TaskGroupManager  # port: no `src.` prefix
from infrastructure.llm.polling_pool import PollingPoolManager  # port: no `src.` prefix
from infrastructure.llm.enhanced_fallback_manager import EnhancedFallbackManager  # port: idem

# --- 使用示例 3 (its import, hoisted as Python style asks) ---
from infrastructure.graph.nodes.llm_node import LLMNode  # port: no `src.` prefix

# --- 编程方式迁移 (its import, hoisted) ---
from infrastructure.llm.migration import ConfigMigrator  # port: no `src.` prefix

config_loader = load_config_dir(sys.argv[1])  # given: the loaded config directory
default_client = ChatOpenAI(base_url=sys.argv[2], api_key="sk-seed", model="default")  # given


async def main() -> None:  # given
    # 创建管理器
    task_group_manager = TaskGroupManager(config_loader)
    polling_pool_manager = PollingPoolManager(task_group_manager)
    fallback_manager = EnhancedFallbackManager(task_group_manager)

    # 创建包装器工厂
    wrapper_factory = LLMWrapperFactory(
        task_group_manager=task_group_manager,
        polling_pool_manager=polling_pool_manager,
        fallback_manager=fallback_manager,
    )

    # --- 使用示例 2. 创建和使用包装器 ---
    # 创建任务组包装器
    fast_wrapper = wrapper_factory.create_task_group_wrapper(
        name="fast_wrapper",
        config={
            "target": "fast_group.echelon1",
            "fallback_groups": ["fast_group.echelon2", "fast_group.echelon3"],
        },
    )

    # 创建轮询池包装器
    pool_wrapper = wrapper_factory.create_polling_pool_wrapper(
        name="fast_pool_wrapper", config={"max_instance_attempts": 2}
    )

    # 使用包装器
    messages = [HumanMessage(content="你好，请介绍一下自己")]
    response = await fast_wrapper.generate_async(messages)
    print(response.content)

    # --- 使用示例 3. 在LLM节点中使用 ---
    # 创建LLM节点
    llm_node = LLMNode(llm_client=default_client, wrapper_factory=wrapper_factory)

    # 执行节点
    state = {"messages": []}
    config = {"llm_wrapper": "fast_wrapper", "system_prompt": "你是一个智能助手"}

    result = llm_node.execute(state, config)
    print(result["messages"][-1].content)  # given: show what the node answered

    # --- 监控和统计: 包装器统计 ---
    # 获取单个包装器统计
    stats = fast_wrapper.get_stats()
    print(f"总请求数: {stats['total_requests']}")
    print(f"成功率: {stats['successful_requests'] / stats['total_requests']}")

    # 获取工厂统计
    factory_stats = wrapper_factory.get_wrapper_stats()
    print(f"包装器总数: {factory_stats['total_wrappers']}")
    print(f"各类型数量: {factory_stats['wrapper_types']}")

    # --- 监控和统计: 健康检查 ---
    # 检查所有包装器健康状态
    health_status = wrapper_factory.health_check_all()
    for name, status in health_status.items():
        print(f"{name}: {'健康' if status['healthy'] else '不健康'}")

    # 轮询池健康检查
    pool_health = await pool_wrapper.ahealth_check()  # port: ahealth_check, the async twin
    print(f"健康实例数: {pool_health['healthy_instances']}")
    print(f"总实例数: {pool_health['total_instances']}")

    # --- 日志调试 ---
    # 启用详细日志
    logging.basicConfig(level=logging.DEBUG)
    logger = logging.getLogger("infrastructure.llm.wrappers")  # port: no `src.` prefix
    logger.setLevel(logging.DEBUG)

    # --- 配置迁移: 编程方式迁移 ---
    # 创建迁移器
    migrator = ConfigMigrator(task_group_manager)

    # 迁移任务组配置
    success = migrator.migrate_global_fallback_to_task_groups()

    # 迁移轮询池配置
    success = migrator.migrate_polling_pools()

    # 验证迁移结果
    validation_result = migrator.validate_migration()
    print(f"迁移: {success.changed} 验证: {validation_result.valid}")  # given: show both


if __name__ == "__main__":  # given
    asyncio.run(main())
