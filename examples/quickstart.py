"""Quickstart: a task group that keeps answering while its instances fail.

Starts three simulated instances on loopback (one refusing connections, one failing 30% of
calls, one healthy), writes a model registry and a task group for them, then streams an
answer through the group and shows which instance served each call, the fallbacks taken and
the circuit breakers' states. Needs no model server and no network.

    python examples/quickstart.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.sim import FaultMode, SimServer


def write_configs(root: Path, dead: str, flaky: str, healthy: str) -> None:
    """A fleet of two instances in echelon 1, a single backup instance in echelon 2."""
    models = {
        "fleet": {
            "provider": "openai",
            "model": "sim-model",
            "api_key": "sk-demo",
            "endpoints": [{"name": "dead", "base_url": dead}, {"name": "flaky", "base_url": flaky}],
        },
        "backup": {"provider": "openai", "model": "sim-model", "base_url": healthy},
    }
    group = {
        "name": "demo_group",
        "description": "two-instance fleet with a backup echelon",
        "echelon1": {"models": ["fleet"], "timeout": 5, "max_retries": 1},
        "echelon2": {"models": ["backup"], "timeout": 5},
        "fallback_config": {
            "strategy": "echelon_down",
            "circuit_breaker": {"failure_threshold": 2, "recovery_time": 30},
        },
    }
    (root / "models").mkdir()
    (root / "groups").mkdir()
    (root / "models" / "registry.yaml").write_text(yaml.safe_dump({"models": models}))
    (root / "groups" / "demo_group.yaml").write_text(yaml.safe_dump(group))


def main() -> None:
    dead = SimServer(FaultMode("refuse")).start()
    flaky = SimServer(FaultMode("error_rate", error_rate=0.3, seed=1)).start()
    healthy = SimServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            write_configs(Path(tmp), dead.base_url, flaky.base_url, healthy.base_url)
            factory = LLMWrapperFactory.from_config_dir(tmp)
        wrapper = factory.get_wrapper("demo_group_wrapper")

        print("Streaming one answer through demo_group_wrapper:\n  ", end="")
        routing = {}
        for chunk in wrapper.stream("What does a circuit breaker do?"):
            print(chunk.content, end="", flush=True)
            routing = chunk.response_metadata.get("routing", routing)
        print(
            f"\n   served by {routing['instance']} ({routing['target']}), "
            f"attempts={routing['attempts']}, fallbacks={routing['fallbacks']}\n"
        )

        print("Ten more calls:")
        for number in range(1, 11):
            served = wrapper.invoke(f"question {number}").response_metadata["routing"]
            print(
                f"  call {number:2}: {served['instance']:12} attempts={served['attempts']} "
                f"fallbacks={served['fallbacks']}"
            )

        stats = wrapper.get_stats()
        print(
            f"\n{stats['successful_requests']}/{stats['total_requests']} calls answered, "
            f"{stats['retries']} retries, {stats['fallbacks']} fallbacks"
        )
        print("Circuit breakers:")
        for target, breakers in stats["breakers"].items():
            for instance, breaker in breakers.items():
                print(f"  {target:20} {instance:14} {breaker['state']}")
        print("Fallback history (latest 3):")
        for event in wrapper.get_fallback_history(limit=3):
            print(f"  {event['from_target']} -> {event['to_target']}: {event['error_type']}")
    finally:
        for server in (dead, flaky, healthy):
            server.stop()


if __name__ == "__main__":
    main()
