"""`llm-wrappers state`: what the replicas of a config directory share in Redis (breakers,
cool-downs, health and slots taken), and closing a breaker by hand."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from infrastructure.llm.cli.common import (
    CommandError,
    Subparsers,
    config_dir,
    config_dir_option,
    open_factory,
)
from infrastructure.llm.cli.table import format_table
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.state import SharedState


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "state",
        parents=[config_dir_option()],
        description="Show what the replicas of a config directory share in Redis (its "
        "state.yaml, or --redis-url): circuit breakers that are not closed and clean, "
        "instances cooling down, pool health verdicts and concurrency slots taken. "
        "--reset-breaker closes an instance's breakers (in every task group) for every "
        "replica.",
    )
    parser.add_argument(
        "--redis-url", metavar="URL", help="the Redis to read (default: the one in state.yaml)"
    )
    parser.add_argument(
        "--reset-breaker",
        metavar="INSTANCE",
        action="append",
        default=[],
        help="close this instance's breakers and forget their failures (repeatable)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    factory = open_factory(config_dir(args), state=args.redis_url)
    with factory:
        manager = factory.task_group_manager
        state = shared_state(manager, config_dir(args))
        for instance in args.reset_breaker:
            _reset(manager, state, instance)
        print(state_line(state))
        print(format_view(state.snapshot()))  # type: ignore[attr-defined]
    return 0


def shared_state(manager: TaskGroupManager, directory: Path) -> Any:
    """The `RedisState` of `directory`'s manager; a CommandError when it keeps its state in
    each process."""
    state = manager.state
    if not hasattr(state, "snapshot"):
        raise CommandError(
            f"{directory} keeps its state in each process ({state_line(state)}): "
            "there is nothing shared to show; set backend: redis in its state.yaml, or "
            "pass --redis-url"
        )
    return state


def configured_instances(manager: TaskGroupManager) -> list[str]:
    """Every instance id of the manager's model registry, sorted."""
    return sorted(i.instance_id for m in manager.config.models.values() for i in m.instances())


def state_line(state: SharedState) -> str:
    """`state: <status>`, naming the store for a networked one (its URL without password)."""
    where = getattr(state, "where", None)
    if where is None:
        return f"state: {state.status()}"
    return f"state: {state.status()} ({where}, key prefix {state.key_prefix!r})"  # type: ignore[attr-defined]


def format_view(view: dict[str, Any]) -> str:
    """The snapshot's four tables, each under its title, or a line saying it is empty."""
    sections = [
        (
            "breakers (not closed and clean)",
            ("GROUP", "INSTANCE", "STATE", "FAILURES", "PROBES OUT", "HALF-OPEN IN"),
            [
                (
                    *_split_breaker(key),
                    b["state"],
                    str(b["consecutive_failures"]),
                    str(b["half_open_in_flight"]),
                    _seconds(b["seconds_until_half_open"]),
                )
                for key, b in sorted(view["breakers"].items())
            ],
        ),
        (
            "cool-downs",
            ("INSTANCE", "SECONDS LEFT"),
            [
                (key.removeprefix("cooldown:"), _seconds(left))
                for key, left in sorted(view["cooldowns"].items())
            ],
        ),
        (
            "pool health",
            ("POOL", "INSTANCE", "HEALTHY", "FAILURES", "SINCE"),
            [
                (
                    *_split_health(key),
                    "yes" if h["healthy"] else "no",
                    str(h["consecutive_failures"]),
                    h["since"],
                )
                for key, h in sorted(view["health"].items())
            ],
        ),
        (
            "concurrency slots taken",
            ("TARGET", "IN FLIGHT"),
            [(key.removeprefix("limits:"), str(n)) for key, n in sorted(view["slots"].items())],
        ),
    ]
    blocks = []
    for title, headers, rows in sections:
        body = format_table(headers, rows) if rows else "  none"
        blocks.append(f"\n{title}:\n{body}")
    return "".join(blocks)


def _reset(manager: TaskGroupManager, state: Any, instance: str) -> None:
    keys = manager.breaker_keys(instance)
    if not keys:
        known = configured_instances(manager)
        raise CommandError(
            f"no instance {instance!r} in any task group (known: {', '.join(known)})"
        )
    for key in keys:
        state.reset_breaker(key)
    groups = ", ".join(key.split(":")[1] for key in keys)
    print(f"closed the breakers of {instance} (task groups: {groups})")


def _split_breaker(key: str) -> tuple[str, str]:
    _, group, instance = key.split(":", 2)
    return group, instance


def _split_health(key: str) -> tuple[str, str]:
    _, pool, instance = key.split(":", 2)
    return pool, instance


def _seconds(value: float | None) -> str:
    return "-" if not value else f"{value:.1f}s"
