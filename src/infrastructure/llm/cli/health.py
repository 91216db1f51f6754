"""`llm-wrappers health`: probe every instance the wrappers can reach, once each, as a table."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

from infrastructure.llm.cli.common import Subparsers, config_dir, config_dir_option, open_factory
from infrastructure.llm.cli.state import state_line
from infrastructure.llm.cli.table import format_table
from infrastructure.llm.fleet.health_probe import DEFAULT_PROBE_TIMEOUT, ProbeResult, probe
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

HEADERS = ("INSTANCE", "MODEL", "PROVIDER", "BASE_URL", "HEALTHY", "ERROR")
MAX_CONCURRENT_PROBES = 16


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "health",
        parents=[config_dir_option()],
        description="Probe every instance any wrapper can reach (GET <base_url>/models; "
        "in-process models always count as healthy), each once, and print one row per "
        "instance. Exit status: 0 when every instance is healthy, 1 otherwise.",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_PROBE_TIMEOUT,
        metavar="SECONDS",
        help=f"how long each probe may take (default {DEFAULT_PROBE_TIMEOUT:g})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_factory(config_dir(args)) as factory:
        instances = reachable_instances(factory)
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_PROBES) as executor:
            results = list(executor.map(lambda i: probe(i, args.timeout), instances))
        state = state_line(factory.task_group_manager.state)
    print(format_table(HEADERS, [_row(i, r) for i, r in zip(instances, results, strict=True)]))
    healthy = sum(result.healthy for result in results)
    print(f"\n{healthy} of {len(results)} instances healthy")
    print(state)
    return 0 if healthy == len(results) else 1


def reachable_instances(factory: LLMWrapperFactory) -> list[Instance]:
    """Every instance behind any registered wrapper, once each, sorted by id (model first)."""
    unique = {
        instance.id: instance
        for name in factory.list_wrappers()
        for instance in factory.get_wrapper(name).routed_instances()
    }
    return [unique[key] for key in sorted(unique)]


def _row(instance: Instance, result: ProbeResult) -> tuple[str, ...]:
    facts = instance.describe()
    return (
        instance.id,
        facts["model"] or "-",
        facts["provider"] or "-",
        facts["base_url"] or "-",
        "yes" if result.healthy else "no",
        result.error or "",
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value
