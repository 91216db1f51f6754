"""Load-aware pools over simulated vLLM instances and real HTTP: `least_loaded` keeps calls
off an instance whose /metrics report a long queue (and falls back to least_busy without
metrics), `prefix_affinity` keeps a session or a prompt prefix on one instance's KV cache and
spills to the next in hash order when that instance dies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph

from infrastructure.llm.fleet.affinity import affinity_key
from infrastructure.llm.fleet.least_loaded import LeastLoaded
from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.fleet.pool_load import fetch_text
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.sim import SimServer
from infrastructure.llm.sim.vllm import VllmConfig
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper

from conftest import StartSim, openai_model, write_config

FAST = VllmConfig(prefill_ms_per_token=0.0, decode_ms_per_token=0.0)
SYSTEM = " ".join(f"rule{i}" for i in range(200))


def config(*urls: str, rotation: str, **pool: Any) -> tuple[dict[str, Any], ...]:
    groups = {"g": {"echelon1": {"models": ["m"], "timeout": 10}}}
    pools = {
        "p": {
            "task_groups": ["g"],
            "rotation_strategy": rotation,
            "fallback_config": {"max_instance_attempts": 2},
            **pool,
        }
    }
    return {"m": openai_model(*urls)}, groups, pools


def wrapper(manager: TaskGroupManager) -> PollingPoolWrapper:
    return PollingPoolWrapper(name="p_wrapper", polling_pool_manager=PollingPoolManager(manager))


def served_by(message: Any) -> str:
    return message.response_metadata["routing"]["instance"]


def queue_up(server: SimServer, calls: int) -> list[threading.Thread]:
    """Send `calls` slow requests straight to `server`, in the background."""
    llm = ChatOpenAI(base_url=server.base_url, api_key="sk-test", model="sim-model", max_retries=0)

    def call() -> None:
        with contextlib.suppress(Exception):  # the server is stopped under it at the end
            llm.invoke("a long job")

    threads = [threading.Thread(target=call, daemon=True) for _ in range(calls)]
    for thread in threads:
        thread.start()
    return threads


def test_least_loaded_routes_away_from_a_long_queue(start_sim: StartSim, manager_for: Any) -> None:
    busy = start_sim("healthy", vllm=VllmConfig(max_num_seqs=1, decode_ms_per_token=2_000))
    idle = [start_sim("healthy", vllm=FAST) for _ in range(2)]
    manager = manager_for(
        *config(busy.base_url, *(s.base_url for s in idle), rotation="least_loaded")
    )
    pool_wrapper = wrapper(manager)
    pool = pool_wrapper._pool
    assert pool.load is not None
    queue_up(busy, 4)  # one runs, three wait
    busy.wait_for(lambda stats: stats.in_flight >= 4, timeout=10)
    assert pool.load.scrape_now() == 3
    rotation = pool.rotation
    assert isinstance(rotation, LeastLoaded)
    assert rotation.load(0) is not None and rotation.load(0) >= 2.0 * 3 + 1  # type: ignore[operator]
    assert rotation.load(1) is not None and rotation.load(1) < 1
    served = Counter(served_by(pool_wrapper.invoke("hello")) for _ in range(30))
    assert served["m#0"] == 0
    assert served["m#1"] + served["m#2"] == 30
    assert min(served["m#1"], served["m#2"]) > 0  # two random choices still spread


def test_least_loaded_without_metrics_works_least_busy_and_warns_once(
    start_sim: StartSim, manager_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    plain = [start_sim("healthy") for _ in range(3)]  # no vLLM engine: /metrics is 404
    pool_wrapper = wrapper(
        manager_for(*config(*(s.base_url for s in plain), rotation="least_loaded"))
    )
    assert pool_wrapper._pool.load is not None
    assert pool_wrapper._pool.load.scrape_now() == 3
    with caplog.at_level(logging.WARNING, logger="infrastructure.llm.fleet.least_loaded"):
        answers = [pool_wrapper.invoke("hello") for _ in range(12)]
    assert all(answer.content for answer in answers)
    warnings = [r for r in caplog.records if r.name.endswith("least_loaded")]
    assert len(warnings) == 1
    assert "least_busy" in warnings[0].getMessage()


def test_background_polling_scrapes_the_metrics(start_sim: StartSim, tmp_path: Any) -> None:
    sims = [start_sim("healthy", vllm=FAST) for _ in range(2)]
    directory = write_config(
        tmp_path / "llms",
        *config(*(s.base_url for s in sims), rotation="least_loaded", metrics_interval=0.05),
    )
    manager = TaskGroupManager.from_config_dir(directory)  # the real clock
    pool_wrapper = wrapper(manager)
    rotation = pool_wrapper._pool.rotation
    assert isinstance(rotation, LeastLoaded)
    pool_wrapper.start_health_checks()
    try:
        # The first scrape is done before start returns: calls at once find readings.
        assert rotation.load(0) == 0.0 and rotation.load(1) == 0.0
        first = rotation.reading(0)
        pause = threading.Event()
        for _ in range(400):  # the thread's next rounds, however slow the machine
            if rotation.reading(0) != first:
                break
            pause.wait(0.05)
        assert rotation.reading(0) != first
        assert pool_wrapper._pool.load is not None and pool_wrapper._pool.load.running
    finally:
        pool_wrapper.stop_health_checks()
    assert not pool_wrapper._pool.load.running


def test_metrics_url_of_an_endpoint_is_used(start_sim: StartSim, manager_for: Any) -> None:
    real, other = start_sim("healthy", vllm=FAST), start_sim("healthy", vllm=FAST)
    models, groups, pools = config(real.base_url, rotation="least_loaded")
    models["m"]["endpoints"][0]["metrics_url"] = other.base_url.removesuffix("/v1") + "/metrics"
    pool = wrapper(manager_for(models, groups, pools))._pool
    fetched: list[str] = []
    assert pool.load is not None
    pool.load._fetch = lambda url, timeout: fetched.append(url) or fetch_text(url, timeout)  # type: ignore[method-assign]
    pool.load.scrape_now()
    assert fetched == [other.base_url.removesuffix("/v1") + "/metrics"]


# --- prefix_affinity ---------------------------------------------------------------------------


@pytest.fixture
def affinity_pool(
    start_sim: StartSim, manager_for: Any
) -> tuple[PollingPoolWrapper, list[SimServer]]:
    sims = [start_sim("healthy", vllm=FAST) for _ in range(4)]
    manager = manager_for(*config(*(s.base_url for s in sims), rotation="prefix_affinity"))
    return wrapper(manager), sims


def test_a_session_stays_on_one_instance_and_sessions_spread(
    affinity_pool: tuple[PollingPoolWrapper, list[SimServer]],
) -> None:
    pool_wrapper, _ = affinity_pool
    homes: dict[str, set[str]] = {}
    for session in ("alice", "bob", "carol", "dave", "erin", "frank"):
        for turn in range(3):
            answer = pool_wrapper.invoke(
                f"turn {turn}", config={"metadata": {"session_id": session}}
            )
            homes.setdefault(session, set()).add(served_by(answer))
    assert all(len(home) == 1 for home in homes.values()), homes
    assert len({next(iter(home)) for home in homes.values()}) >= 2


def test_configurable_thread_id_and_session_id_name_the_same_session(
    affinity_pool: tuple[PollingPoolWrapper, list[SimServer]],
) -> None:
    pool_wrapper, _ = affinity_pool
    by_metadata = served_by(pool_wrapper.invoke("a", config={"metadata": {"session_id": "s7"}}))
    by_thread = served_by(
        asyncio.run(pool_wrapper.ainvoke("b", config={"configurable": {"thread_id": "s7"}}))
    )
    chunks = list(pool_wrapper.stream("c", config={"configurable": {"session_id": "s7"}}))
    by_stream = chunks[0].response_metadata["routing"]["instance"]
    assert by_metadata == by_thread == by_stream


def test_a_graph_nodes_call_has_its_threads_session(
    affinity_pool: tuple[PollingPoolWrapper, list[SimServer]],
) -> None:
    pool_wrapper, _ = affinity_pool

    def node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [pool_wrapper.invoke(state["messages"])]}  # no config passed

    builder = StateGraph(MessagesState)
    builder.add_node("llm", node)
    builder.add_edge(START, "llm")
    graph = builder.compile()
    homes = set()
    for turn in range(3):
        result = graph.invoke(
            {"messages": [("user", f"turn {turn}")]}, {"configurable": {"thread_id": "g-1"}}
        )
        homes.add(served_by(result["messages"][-1]))
    direct = pool_wrapper.invoke("x", config={"metadata": {"session_id": "g-1"}})
    assert homes == {served_by(direct)}


def test_a_repeated_prompt_prefix_meets_its_kv_cache(
    affinity_pool: tuple[PollingPoolWrapper, list[SimServer]],
) -> None:
    pool_wrapper, _ = affinity_pool
    first = pool_wrapper.invoke([("system", SYSTEM), ("user", "question one")])
    later = [
        pool_wrapper.invoke(
            [("system", SYSTEM), ("user", "question one"), ("ai", "..."), ("user", f"more {n}")]
        )
        for n in range(3)
    ]
    assert {served_by(answer) for answer in later} == {served_by(first)}
    for answer in later:
        assert answer.usage_metadata is not None
        assert answer.usage_metadata["input_token_details"]["cache_read"] > 0


def test_a_dead_instance_spills_its_sessions_to_the_next_in_hash_order(
    affinity_pool: tuple[PollingPoolWrapper, list[SimServer]],
) -> None:
    pool_wrapper, sims = affinity_pool
    pool = pool_wrapper._pool
    key = affinity_key([], "doomed", 2048)
    home, runner_up, *_ = (pool.members[i] for i in pool.rotation.candidates(key))
    config = {"metadata": {"session_id": "doomed"}}
    assert served_by(pool_wrapper.invoke("hi", config=config)) == home.instance.id
    sims[home.index].stop()
    spilled = [served_by(pool_wrapper.invoke("again", config=config)) for _ in range(4)]
    assert spilled == [runner_up.instance.id] * 4
