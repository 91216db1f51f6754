"""`llm-wrappers demo`: the whole product on a machine with no model server.

Starts three simulated instances in-process (one dead, one flaky, one healthy), points the
example config shipped with the package (what `llm-wrappers init` writes) at them through its
environment variables, runs a two-node LangGraph workflow whose LLMNodes name wrappers, streams
the answers, and shows what served each call, the fallbacks taken and the breaker states.
Variables you set yourself win, so `LLM_WRAPPERS_OPENAI_URL`, `LLM_WRAPPERS_OPENAI_KEY` and
`LLM_WRAPPERS_OPENAI_MODEL` send echelon 1 to a real server; nothing else leaves loopback.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from infrastructure.graph.workflow import build_workflow
from infrastructure.llm.example_config import EXAMPLE_CONFIG_DIR, endpoint_environment
from infrastructure.llm.sim import FaultMode, SimServer
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

QUESTIONS = (
    "What does a circuit breaker do?",
    "Why hedge a slow request?",
    "When should a call fall back to another echelon?",
)

WORKFLOW = {
    "nodes": {
        "answer": {
            "type": "llm_node",
            "config": {"llm_wrapper": "fast_group_wrapper", "system_prompt": "Answer briefly."},
        },
        "review": {
            "type": "llm_node",
            "config": {"polling_pool": "fast_pool", "system_prompt": "Check the answer."},
        },
    },
    "edges": [["answer", "review"]],
}


@contextmanager
def simulated_fleet() -> Iterator[dict[str, str]]:
    """Three simulators; yields the environment that points the example config at them."""
    dead = SimServer(FaultMode("refuse")).start()
    flaky = SimServer(FaultMode("error_rate", error_rate=0.3, seed=7)).start()
    healthy = SimServer().start()
    try:
        # In ENDPOINT_VARIABLES' order: both hosted models dead, the vLLM fleet healthy,
        # flaky and dead, the Llama server healthy.
        urls = (dead, dead, healthy, flaky, dead, healthy)
        yield endpoint_environment([server.base_url for server in urls])
    finally:
        for server in (dead, flaky, healthy):
            server.stop()


@contextmanager
def environment(defaults: dict[str, str]) -> Iterator[None]:
    """Set `defaults` for variables the user has not set; restore everything afterwards."""
    added = [name for name in defaults if name not in os.environ]
    os.environ.update({name: defaults[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def describe(message: AIMessage) -> str:
    routing: dict[str, Any] = message.response_metadata.get("routing", {})
    where = routing.get("pool") or routing.get("target")
    return (
        f"{routing.get('wrapper')} -> {where}: instance {routing.get('instance')}, "
        f"attempts={routing.get('attempts')}, fallbacks={routing.get('fallbacks')}, "
        f"hedged={routing.get('hedged')}"
    )


def run(config_dir: str) -> int:
    """Run the workflow on every question; 0 when every call was answered."""
    factory = LLMWrapperFactory.from_config_dir(config_dir)
    graph = build_workflow(WORKFLOW, factory)
    pool = factory.get_wrapper("fast_pool_wrapper")
    rounds = factory.polling_pool_manager.pool_config("fast_pool").failure_threshold
    for _ in range(rounds):  # what background checks would do over `rounds` intervals
        health = pool.health_check()
    print(
        f"fast_pool after {rounds} health-check rounds: {health['healthy_instances']}/"
        f"{health['total_instances']} instances healthy\n"
    )
    for question in QUESTIONS:
        print(f"> {question}")
        state = {"messages": [HumanMessage(question)]}
        node = None
        for chunk, meta in graph.stream(state, stream_mode="messages"):
            if meta["langgraph_node"] != node:
                node = meta["langgraph_node"]
                print(f"\n  [{node}] ", end="")
            print(chunk.content, end="", flush=True)
        print("\n")
    answered = 0
    total = 0
    for name in ("fast_group_wrapper", "fast_pool_wrapper"):
        stats = factory.get_wrapper(name).get_stats()
        answered += stats["successful_requests"]
        total += stats["total_requests"]
        print(
            f"{name}: {stats['successful_requests']}/{stats['total_requests']} answered, "
            f"{stats['retries']} retries, {stats['fallbacks']} fallbacks, "
            f"{stats['hedges']} hedges"
        )
        for instance, counts in sorted(stats["per_instance"].items()):
            print(f"    {instance:28} {counts['requests']} attempts, {counts['failures']} failed")
    wrapper = factory.get_wrapper("fast_group_wrapper")
    print("\nCircuit breakers (fast_group):")
    for target, breakers in wrapper.get_stats()["breakers"].items():
        for instance, breaker in breakers.items():
            print(f"  {target:20} {instance:28} {breaker['state']}")
    print("Fallbacks taken (latest 3):")
    for event in wrapper.get_fallback_history(limit=3):  # type: ignore[attr-defined]
        print(f"  {event['from_target']} -> {event['to_target']}: {event['error_type']}")
    print(f"\n{answered}/{total} calls answered")
    return 0 if answered == total else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-wrappers demo", description=__doc__)
    parser.add_argument(
        "--config-dir",
        default=str(EXAMPLE_CONFIG_DIR),
        help="a copy of the example config (llm-wrappers init) to run instead of the package's own",
    )
    args = parser.parse_args(argv)
    with simulated_fleet() as fleet, environment(fleet):
        return run(args.config_dir)


if __name__ == "__main__":
    raise SystemExit(main())
