"""A hung instance whose health checks pass is found out by hedging: each cancelled loser
counts against it, so after `failure_threshold` losses its breaker takes it out."""

from __future__ import annotations

import asyncio
from pathlib import Path

from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.records import CircuitState
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper

from conftest import StartSim, openai_model, write_config


def test_cancelled_hedge_losers_eject_a_hung_instance(start_sim: StartSim, tmp_path: Path) -> None:
    hung, healthy = start_sim("hang_chat"), start_sim("healthy")
    models = {"m": openai_model(hung.base_url, healthy.base_url)}
    groups = {"g": {"echelon1": {"models": ["m"], "timeout": 30}}}
    pools = {"p": {"task_groups": ["g"], "hedging": {"delay": "p95", "fallback_delay": 0.1}}}
    # Hedge delays pass in real time here, so this manager keeps the real clock.
    manager = TaskGroupManager.from_config_dir(write_config(tmp_path, models, groups, pools))
    pool = PollingPoolWrapper(name="p_wrapper", polling_pool_manager=PollingPoolManager(manager))

    async def calls(count: int) -> list[str]:
        return [str((await pool.ainvoke(f"q{n}")).content) for n in range(count)]

    answers = asyncio.run(calls(30))
    assert answers == [f"Simulated reply to: q{n}" for n in range(30)]
    breaker = pool.polling_pool_manager.pool("p").members[0].breaker  # type: ignore[union-attr]
    assert breaker.state is CircuitState.OPEN
    # Five losses (the default failure_threshold) opened it; no call reached it afterwards.
    assert hung.wait_for(lambda s: s.cancelled == 5).requests == 5
    assert pool.get_stats()["per_instance"]["m#0"] == {
        "requests": 5,
        "failures": 5,
        "error_rate": 1.0,
    }
