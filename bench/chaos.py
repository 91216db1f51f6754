"""Chaos run: pools and task groups (hedged with default settings, and a pool without
hedging) against LangChain's own retry + fallbacks, on a fleet with a hung instance.

Three simulator instances in one child process: one hung on chat completions whose `/models`
still answers (so health checks would call it healthy; none are started unless asked), one
failing 30% of its calls with a 500, one healthy with 20 ms latency. Each contender makes
`--calls` async calls, at most `--concurrency` in flight, all in one event loop, and the run
reports success rate, p50, p99, max and throughput for:

* pool, hedged: a PollingPoolWrapper over the three instances, round_robin rotation,
  `instance_rotation` with `max_instance_attempts: 3`, echelon timeout 5 s, and
  `hedging: {delay: p95}` with every other hedging setting at its default; by `ainvoke` and
  by `astream` (latency until the last chunk).
* group, hedged: a TaskGroupWrapper whose one echelon holds the three instances
  (`max_retries: 2`), `fallback_config.hedging: {delay: p95}`; by `ainvoke` and `astream`.
* pool, no hedging: the pool above without hedging, by `ainvoke`, for comparison.
* LangChain baseline: `ChatOpenAI(timeout=5, max_retries=0)` per instance, chained LangChain's
  own way as `a.with_retry().with_fallbacks([b.with_retry(), c.with_retry()])` (with_retry
  defaults: 3 attempts, exponential backoff with jitter). To be fair, three such chains are
  built, each with another instance as primary, and calls are dealt round-robin across them.

Every contender gets a fresh manager (fresh breakers and hedge statistics). Latency
percentiles are over every call, failed ones included (time until the error). Goals: 100%
success for every wrapper, and p99 at most 300 ms for the hedged ones. The script exits 0
even when a goal is missed.

With `--chart PATH` the run also draws every contender's latency CDF (log x axis, p50 and
p99 marked) into a PNG (matplotlib, the `bench` extra).

    python bench/chaos.py [--calls 600] [--concurrency 20] [--health-checks] [--chart PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent))
import charts

from infrastructure.llm import (
    BaseLLMWrapper,
    PollingPoolManager,
    PollingPoolWrapper,
    TaskGroupManager,
    TaskGroupWrapper,
)

from bench_config import write_config_dir
from sim_process import simulator_process

PROMPT = "Say something short."
FAULTS = ("hang_chat", "error_rate:0.3", "slow:0.02")
LABELS = ("hung", "30% errors", "healthy 20 ms")
TIMEOUT = 5.0
HEALTH_INTERVAL = 1.0
HEALTH_TIMEOUT = 0.5
BASELINE = "LangChain retry+fallbacks"
P99_GOAL = 0.3
HEDGING = {"delay": "p95"}  # every other hedging setting at its default

Call = Callable[[int], Awaitable[BaseMessage]]


@dataclass
class Outcome:
    """One call: when it started (seconds into the run), how long it took, what served it."""

    started: float
    latency: float
    ok: bool
    routing: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class Run:
    """Every call of one contender, and the wall time of the whole batch."""

    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    wall: float = 0.0
    stats: dict[str, Any] | None = None

    @property
    def latencies(self) -> list[float]:
        return sorted(o.latency for o in self.outcomes)

    @property
    def success_rate(self) -> float:
        return sum(o.ok for o in self.outcomes) / len(self.outcomes)

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile of all call latencies, failed calls included."""
        ordered = self.latencies
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]

    @property
    def throughput(self) -> float:
        return len(self.outcomes) / self.wall

    def routings(self) -> list[dict[str, Any]]:
        return [o.routing for o in self.outcomes if o.routing is not None]


def config_dir(root: Path, urls: list[str], hedging: dict[str, Any] | None, health: bool) -> Path:
    """One model with the three simulator endpoints, one group over it, one pool over the group.

    The echelon's `max_retries` applies to task-group routing; in a pool the retries are
    `max_instance_attempts`. Circuit breakers keep their defaults (open after 5 consecutive
    failures, half-open after 60 s), as do the pool's health `failure_threshold` (3) and
    `recovery_time` (60 s). The health interval and timeout only matter when checks are started.
    """
    models = {
        "sim": {
            "provider": "openai",
            "model": "sim-model",
            "api_key": "sk-bench",
            "endpoints": [{"base_url": url, "weight": 1} for url in urls],
        }
    }
    group: dict[str, Any] = {"echelon1": {"models": ["sim"], "timeout": TIMEOUT, "max_retries": 2}}
    if hedging is not None:
        group["fallback_config"] = {"hedging": hedging}
    pool: dict[str, Any] = {
        "task_groups": ["chaos"],
        "rotation_strategy": "round_robin",
        "health_check_interval": HEALTH_INTERVAL if health else 30.0,
        "health_check_timeout": HEALTH_TIMEOUT if health else 5.0,
        "fallback_config": {"strategy": "instance_rotation", "max_instance_attempts": 3},
    }
    if hedging is not None:
        pool["hedging"] = hedging
    return write_config_dir(root, models, {"chaos": group}, {"chaos_pool": pool})


def build_wrapper(directory: Path, kind: str) -> BaseLLMWrapper:
    """A pool or group wrapper over a fresh manager: no state from earlier runs."""
    manager = TaskGroupManager.from_config_dir(directory)
    if kind == "group":
        return TaskGroupWrapper(target="chaos", task_group_manager=manager)
    return PollingPoolWrapper(
        name="chaos_pool_wrapper", polling_pool_manager=PollingPoolManager(manager)
    )


def build_baseline(urls: list[str]) -> list[Runnable[Any, BaseMessage]]:
    """Three `with_retry().with_fallbacks(...)` chains, each with another instance as primary."""
    models = [
        ChatOpenAI(
            base_url=url, api_key="sk-bench", model="sim-model", timeout=TIMEOUT, max_retries=0
        )
        for url in urls
    ]
    chains: list[Runnable[Any, BaseMessage]] = []
    for first in range(len(models)):
        order = models[first:] + models[:first]
        primary, *rest = order
        chains.append(primary.with_retry().with_fallbacks([m.with_retry() for m in rest]))
    return chains


def wrapper_call(wrapper: BaseLLMWrapper, mode: str) -> Call:
    """Call number -> one `ainvoke` of the wrapper, or one whole `astream`."""

    async def invoke(number: int) -> BaseMessage:
        return await wrapper.ainvoke(PROMPT)

    async def stream(number: int) -> BaseMessage:
        chunks = [chunk async for chunk in wrapper.astream(PROMPT)]
        first, *rest = chunks
        return sum(rest, first)  # type: ignore[no-any-return]

    return invoke if mode == "ainvoke" else stream


async def drive(name: str, call: Call, calls: int, concurrency: int, progress: float) -> Run:
    """Make `calls` calls, `concurrency` at a time; print progress every `progress` seconds."""
    run = Run(name)
    gate = asyncio.Semaphore(concurrency)
    start = time.perf_counter()

    async def one(number: int) -> None:
        async with gate:
            began = time.perf_counter()
            try:
                message = await call(number)
            except Exception as exc:
                latency = time.perf_counter() - began
                error = f"{type(exc).__name__}: {exc}"[:300]
                run.outcomes.append(Outcome(began - start, latency, False, error=error))
            else:
                latency = time.perf_counter() - began
                routing = message.response_metadata.get("routing")
                run.outcomes.append(Outcome(began - start, latency, True, routing))

    async def report() -> None:
        while True:
            await asyncio.sleep(progress)
            elapsed = time.perf_counter() - start
            print(
                f"  ... {name}: {len(run.outcomes)}/{calls} calls done after {elapsed:.0f} s",
                flush=True,
            )

    reporter = asyncio.create_task(report())
    try:
        await asyncio.gather(*(one(n) for n in range(calls)))
    finally:
        reporter.cancel()
    run.wall = time.perf_counter() - start
    return run


CONTENDERS = (
    ("pool, hedged, ainvoke", "pool", HEDGING, "ainvoke"),
    ("pool, hedged, astream", "pool", HEDGING, "astream"),
    ("group, hedged, ainvoke", "group", HEDGING, "ainvoke"),
    ("group, hedged, astream", "group", HEDGING, "astream"),
    ("pool, no hedging", "pool", None, "ainvoke"),
)


async def run_all(args: argparse.Namespace, urls: list[str], tmp: Path) -> list[Run]:
    """Every wrapper contender, then the baseline, in this one event loop."""
    runs: list[Run] = []
    for index, (name, kind, hedging, mode) in enumerate(CONTENDERS):
        directory = config_dir(tmp / f"c{index}", urls, hedging, args.health_checks)
        wrapper = build_wrapper(directory, kind)
        print(f"running {name} ...", flush=True)
        checked = args.health_checks and isinstance(wrapper, PollingPoolWrapper)
        if checked:
            wrapper.start_health_checks()  # type: ignore[union-attr]
        try:
            call = wrapper_call(wrapper, mode)
            run = await drive(name, call, args.calls, args.concurrency, args.progress)
        finally:
            if checked:
                wrapper.stop_health_checks()  # type: ignore[union-attr]
        run.stats = wrapper.get_stats()
        runs.append(run)

    chains = build_baseline(urls)

    def baseline(number: int) -> Awaitable[BaseMessage]:
        return chains[number % len(chains)].ainvoke(PROMPT)

    print(f"running {BASELINE} ...", flush=True)
    runs.append(await drive(BASELINE, baseline, args.calls, args.concurrency, args.progress))
    return runs


def _flat_breakers(breakers: dict[str, Any]) -> dict[str, Any]:
    """A pool's breakers by instance, or a group's (by target, then instance) flattened."""
    flat: dict[str, Any] = {}
    for key, value in breakers.items():
        if "state" in value:
            flat[key] = value
        else:
            flat.update(value)
    return flat


def describe_instance(instance_id: str) -> str:
    """`sim#2` -> `healthy 20 ms`."""
    index = int(instance_id.rpartition("#")[2])
    return LABELS[index]


def print_report(args: argparse.Namespace, runs: list[Run]) -> None:
    health = (
        f"background health checks every {HEALTH_INTERVAL:g} s, probe timeout {HEALTH_TIMEOUT:g} s"
        if args.health_checks
        else "no background health checks"
    )
    print(f"\n{args.calls} calls per contender, {args.concurrency} in flight, one event loop;")
    instances = ", ".join(f"{f} ({label})" for f, label in zip(FAULTS, LABELS, strict=True))
    print(f"instances: {instances};")
    print(f"timeout {TIMEOUT:g} s per attempt; pools: {health}\n")
    header = (
        f"{'':28} {'success':>8} {'p50 ms':>8} {'p99 ms':>9} {'max ms':>9} {'calls/s':>8}"
        f" {'attempts':>9} {'hedged':>7}"
    )
    print(header)
    for run in runs:
        routings = run.routings()
        attempts = (
            f"{statistics.fmean(r['attempts'] for r in routings):9.2f}" if routings else f"{'-':>9}"
        )
        hedged = (
            f"{sum(r['hedged'] for r in routings) / len(routings):7.1%}"
            if routings
            else f"{'-':>7}"
        )
        print(
            f"{run.name:28} {run.success_rate:8.1%} {run.percentile(0.50) * 1000:8.1f}"
            f" {run.percentile(0.99) * 1000:9.1f} {run.latencies[-1] * 1000:9.1f}"
            f" {run.throughput:8.1f} {attempts} {hedged}"
        )
    print("(attempts: mean HTTP attempts per successful call incl. hedges; hedged: share of calls)")

    baseline = runs[-1]
    print()
    for run in runs[:-1]:
        p99 = run.percentile(0.99) / baseline.percentile(0.99)
        rate = run.throughput / baseline.throughput
        print(f"{run.name:28} p99 ratio vs baseline {p99:6.3f}   throughput ratio {rate:6.2f}x")

    print()
    for run in runs[:-1]:
        served = Counter(describe_instance(r["instance"]) for r in run.routings())
        stats = run.stats or {}
        failures = {
            describe_instance(k): v["failures"] for k, v in stats.get("per_instance", {}).items()
        }
        breakers = {
            describe_instance(k): v["state"]
            for k, v in _flat_breakers(stats.get("breakers", {})).items()
        }
        health = {
            describe_instance(k): "healthy" if v["healthy"] else "unhealthy"
            for k, v in stats.get("health", {}).items()
        }
        print(f"{run.name}: served by {dict(served)}")
        print(f"    failed attempts per instance {failures} (hedges outrun count as failed)")
        print(f"    at the end: breakers {breakers}; health {health}")
        errors = Counter(o.error for o in run.outcomes if not o.ok)
        for error, count in errors.most_common(3):
            print(f"    {count} x {error}")
    baseline_errors = Counter(o.error for o in baseline.outcomes if not o.ok)
    for error, count in baseline_errors.most_common(3):
        print(f"{BASELINE}: {count} x {error}")

    print()
    for run in runs[:-1]:
        met = "met" if run.success_rate == 1.0 else "NOT met"
        print(f"goal 100% success ({run.name}): {met} ({run.success_rate:.1%})")
    for run in runs[:-1]:
        if "hedged" in run.name:
            p99 = run.percentile(0.99)
            met = "met" if p99 <= P99_GOAL else "NOT met"
            print(f"goal p99 <= {P99_GOAL * 1000:.0f} ms ({run.name}): {met} ({p99 * 1000:.1f} ms)")

    if args.show_slowest:
        for run in runs:
            print(f"\nslowest {args.show_slowest} calls of {run.name}:")
            slowest = sorted(run.outcomes, key=lambda o: o.latency, reverse=True)
            for o in slowest[: args.show_slowest]:
                r = o.routing or {}
                where = describe_instance(r["instance"]) if r else o.error
                print(
                    f"  started {o.started:7.3f} s  took {o.latency * 1000:8.1f} ms  "
                    f"attempts {r.get('attempts', '-')}  hedged {r.get('hedged', '-')}  {where}"
                )


def latency_cdf(runs: list[Run]) -> charts.CdfPanel:
    """Every contender's call latencies in ms, failed calls included, as the table has them."""
    series = {run.name: [latency * 1000 for latency in run.latencies] for run in runs}
    return charts.CdfPanel("latency of every call, failed ones included", series)


def chart_title(args: argparse.Namespace) -> str:
    instances = ", ".join(LABELS)
    return (
        f"Chaos: {args.calls} calls per contender, {args.concurrency} in flight; "
        f"instances {instances}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--health-checks",
        action="store_true",
        help="run background health checks on the pools (the hung instance passes them)",
    )
    parser.add_argument(
        "--progress", type=float, default=5.0, help="seconds between progress lines"
    )
    parser.add_argument("--show-slowest", type=int, default=0, help="list the N slowest calls")
    charts.add_options(parser)
    args = parser.parse_args()

    with simulator_process(*FAULTS) as urls, tempfile.TemporaryDirectory() as tmp:
        runs = asyncio.run(run_all(args, urls, Path(tmp)))
    print_report(args, runs)
    charts.write(args, chart_title(args), [latency_cdf(runs)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
