"""Seed 004's usage example, transcribed with only docs/porting.md's edits, runs against the
simulator: a renamed import path or method would stop it here.

The config directory holds seed 004's own `fast_group.yaml` and `fast_pool.yaml` (plus the
echelons its `fallback_groups` name, which the seed elides) and a registry pointing the
seed's model names at simulated instances: `openai-gpt4` dead, the others healthy.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from conftest import StartSim, openai_model

EXAMPLE = Path(__file__).with_name("seed_004_usage.py")

# Seed 004, "任务组配置", verbatim, then the two echelons its fallback_groups name.
FAST_GROUP = """
# configs/llms/groups/fast_group.yaml
name: "fast_group"
description: "快速响应任务组"

echelon1:
  models: ["openai-gpt4", "anthropic-claude-3-opus"]
  concurrency_limit: 10
  rpm_limit: 100
  priority: 1
  timeout: 30
  max_retries: 3
  temperature: 0.7
  max_tokens: 2000

# 降级配置
fallback_config:
  strategy: "echelon_down"
  fallback_groups: ["fast_group.echelon2", "fast_group.echelon3"]
  max_attempts: 3
  retry_delay: 1.0
  circuit_breaker:
    failure_threshold: 5
    recovery_time: 60
    half_open_requests: 1

echelon2: {models: ["local-qwen"]}
echelon3: {models: ["local-qwen"], timeout: 60}
"""

# Seed 004, "轮询池配置", verbatim.
FAST_POOL = """
# configs/llms/polling_pools/fast_pool.yaml
name: "fast_pool"
description: "快速响应任务专用轮询池"

task_groups: ["fast_group"]
rotation_strategy: "round_robin"
health_check_interval: 30
failure_threshold: 3
recovery_time: 60

# 轮询池专用降级策略
fallback_config:
  strategy: "instance_rotation"
  max_instance_attempts: 2
"""


def seed_config_dir(root: Path, dead_url: str, healthy_url: str) -> Path:
    for sub in ("models", "groups", "polling_pools"):
        (root / sub).mkdir(parents=True)
    models = {
        "openai-gpt4": openai_model(dead_url, model="gpt-4"),
        "anthropic-claude-3-opus": openai_model(healthy_url, model="claude-3-opus"),
        "local-qwen": openai_model(healthy_url, model="qwen"),
    }
    (root / "models" / "registry.yaml").write_text(yaml.safe_dump({"models": models}))
    (root / "groups" / "fast_group.yaml").write_text(textwrap.dedent(FAST_GROUP), "utf-8")
    (root / "polling_pools" / "fast_pool.yaml").write_text(textwrap.dedent(FAST_POOL), "utf-8")
    return root


def test_seed_004_usage_example_runs_as_ported(
    tmp_path: Path, start_sim: StartSim, dead_url: str
) -> None:
    fleet = start_sim("healthy")
    default = start_sim("healthy")
    config_dir = seed_config_dir(tmp_path / "llms", dead_url, fleet.base_url)
    before = (config_dir / "groups" / "fast_group.yaml").read_text("utf-8")

    run = subprocess.run(
        [sys.executable, str(EXAMPLE), str(config_dir), default.base_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines == [
        "Simulated reply to: 你好，请介绍一下自己",  # generate_async, despite the dead gpt-4
        "Simulated reply to: ",  # the node: the seed sends only its system prompt
        "总请求数: 2",
        "成功率: 1.0",
        "包装器总数: 2",
        "各类型数量: {'task_group': 1, 'polling_pool': 1}",
        "fast_wrapper: 健康",
        "fast_pool_wrapper: 健康",
        "健康实例数: 2",  # this round's probes: claude and qwen answer, gpt-4 refuses
        "总实例数: 3",
        "迁移: False 验证: True",  # already per-group fallback: nothing to migrate
    ]
    # Every answer came from the fleet's simulator; the node's default client was not used.
    assert fleet.stats.completed == 2
    assert default.stats.completed == 0
    assert (config_dir / "groups" / "fast_group.yaml").read_text("utf-8") == before
