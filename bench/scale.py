"""Scale: per-call p50 of pools and task groups of 1, 100 and 1,000 instances, and the time to
build a factory over 1, 100 and 1,000 instances, in one run.

Picking an instance should cost the same whatever the size, so the p50 with 100 or 1,000
instances should stay within 5% of the p50 with one (goal: ratio at most 1.05):

* mock pool, mock group: every instance is the in-process `mock` provider (no network), in a
  round-robin polling pool, and in one echelon of a task group. A call's cost is then the
  wrapper, the routing decision and a trivial model, so any growth with the size is routing
  cost. In the group, all but one instance have an open breaker (`--open` of them, default
  all but one): they are benched after the first calls meet them, so picks stay O(1).
* HTTP pool: every instance an OpenAI-compatible endpoint on the package's shared HTTP
  clients, all served by one simulator in a child process (instance n uses the base URL
  `<sim>/i<n>/v1`; the simulator matches paths by suffix, so it does the same work whatever
  the size). Warm-up sends a call to every instance.

Calls are sequential `invoke`s, interleaved call by call across the sizes (starting with
another size each round) so drift hits them all alike.

Build time: `LLMWrapperFactory.from_config_dir` over a directory with one model of N
endpoints (each its own host; nothing is contacted), a group and a pool over it; the median
of three builds. Goal: at most 2 s for 1,000 instances. With the `bench` extra installed,
LiteLLM's Router over N deployments is built too, for comparison.

With `--chart PATH` the run also draws the curves (p50 per call, its ratio to one instance's,
and build time, against the number of instances) into a PNG (matplotlib, the `bench` extra).

    python bench/scale.py [--calls 2000] [--warmup 200] [--only mock|http|build] [--chart PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import charts

from infrastructure.llm import (
    BaseLLMWrapper,
    LLMWrapperFactory,
    PollingPoolManager,
    PollingPoolWrapper,
    TaskGroupManager,
    TaskGroupWrapper,
)
from infrastructure.llm.resilience.records import BreakerRecord, CircuitState

from bench_config import write_config_dir
from sim_process import simulator_process

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM: fetch nothing

PROMPT = "Say something short."
SIZES = (1, 100, 1000)
GOAL = 1.05
BUILD_GOAL = 2.0

ModelFor = Callable[[int], dict[str, Any]]


def mock_model(size: int) -> dict[str, Any]:
    """`size` in-process mock instances (ids m#0 .. m#<size-1>)."""
    return {"provider": "mock", "model": "echo", "endpoints": [{} for _ in range(size)]}


def http_model(sim_url: str) -> ModelFor:
    """`size` OpenAI-compatible instances, all on one simulator under distinct path prefixes."""
    root = sim_url.removesuffix("/").removesuffix("/v1")

    def model(size: int) -> dict[str, Any]:
        return {
            "provider": "openai",
            "model": "sim-model",
            "api_key": "sk-bench",
            "endpoints": [{"base_url": f"{root}/i{n}/v1"} for n in range(size)],
        }

    return model


def manager_over(root: Path, model: dict[str, Any]) -> TaskGroupManager:
    """One group over the model's instances, one round-robin pool over the group."""
    groups = {"scale": {"echelon1": {"models": ["m"], "timeout": 30}}}
    pools = {"scale_pool": {"task_groups": ["scale"], "rotation_strategy": "round_robin"}}
    return TaskGroupManager.from_config_dir(write_config_dir(root, {"m": model}, groups, pools))


def pool_of(manager: TaskGroupManager) -> BaseLLMWrapper:
    return PollingPoolWrapper(
        name="scale_pool_wrapper", polling_pool_manager=PollingPoolManager(manager)
    )


def group_with_open_breakers(manager: TaskGroupManager, open_fraction: float) -> BaseLLMWrapper:
    """The group's wrapper, with the breakers of all but the last instance open (by default)."""
    wrapper = TaskGroupWrapper(target="scale", task_group_manager=manager)
    members = wrapper.plan.targets[0].members
    opened = BreakerRecord(CircuitState.OPEN, 5, manager.clock.now())
    for member in members[: min(len(members) - 1, round(open_fraction * len(members)))]:
        manager.state.update_breaker(member.gate.breaker_key, lambda _: (opened, None))
    return wrapper


def measure(wrappers: dict[int, BaseLLMWrapper], calls: int, warmup: int) -> dict[int, float]:
    """p50 seconds per call per size, the sizes interleaved call by call."""
    for size, wrapper in wrappers.items():
        for _ in range(max(size, warmup)):  # at least one call on every instance
            wrapper.invoke(PROMPT)
    samples: dict[int, list[float]] = {size: [] for size in wrappers}
    order = list(wrappers.items())
    for number in range(calls):
        shift = number % len(order)
        for size, wrapper in order[shift:] + order[:shift]:
            began = time.perf_counter()
            wrapper.invoke(PROMPT)
            samples[size].append(time.perf_counter() - began)
    return {size: statistics.median(values) for size, values in samples.items()}


def print_table(title: str, unit: str, p50: dict[int, float]) -> None:
    scale, digits = (1e6, 1) if unit == "µs" else (1e3, 3)
    print(f"\n{title}")
    print(f"  {'instances':>9} {'p50 ' + unit:>10} {'p50 ratio':>10}")
    for size, value in p50.items():
        print(f"  {size:>9,} {value * scale:10.{digits}f} {value / p50[SIZES[0]]:10.3f}")
    worst = max(p50[size] / p50[SIZES[0]] for size in SIZES[1:])
    verdict = "met" if worst <= GOAL else "NOT met"
    print(f"  goal p50 ratio <= {GOAL}: {verdict} (worst {worst:.3f})")


def build_times(root: Path) -> dict[str, dict[int, float]]:
    """Median of three factory builds per size; LiteLLM's Router too, when installed. The
    medians in seconds, by builder and size."""
    medians: dict[str, dict[int, float]] = {"factory": {}}
    print("\nbuilding a factory over N instances (each its own host; nothing contacted), s")
    try:
        from litellm import Router
    except ImportError:
        Router = None
        print("  (LiteLLM is not installed: pip install -e '.[bench]' adds it)")
    print(f"  {'instances':>9} {'factory':>9}" + (f" {'LiteLLM':>9}" if Router else ""))
    for size in SIZES:
        urls = [f"http://10.{n // 65536}.{n // 256 % 256}.{n % 256}:8000/v1" for n in range(size)]
        model = {
            "provider": "openai",
            "model": "m",
            "api_key": "sk-bench",
            "endpoints": [{"base_url": url} for url in urls],
        }
        directory = write_config_dir(
            root / f"build{size}",
            {"m": model},
            {"g": {"echelon1": {"models": ["m"]}}},
            {"p": {"task_groups": ["g"]}},
        )
        ours = []
        for _ in range(3):
            began = time.perf_counter()
            LLMWrapperFactory.from_config_dir(directory)
            ours.append(time.perf_counter() - began)
        medians["factory"][size] = statistics.median(ours)
        line = f"  {size:>9,} {statistics.median(ours):9.3f}"
        if Router is not None:
            deployments = [
                {
                    "model_name": "m",
                    "litellm_params": {"model": "openai/m", "api_base": url, "api_key": "x"},
                }
                for url in urls
            ]
            theirs = []
            for _ in range(3):
                began = time.perf_counter()
                Router(model_list=deployments)
                theirs.append(time.perf_counter() - began)
            line += f" {statistics.median(theirs):9.3f}"
            medians.setdefault("LiteLLM Router", {})[size] = statistics.median(theirs)
        print(line)
        if size == SIZES[-1]:
            verdict = "met" if statistics.median(ours) <= BUILD_GOAL else "NOT met"
            print(f"  goal <= {BUILD_GOAL:g} s for {size:,} instances: {verdict}")
    return medians


def chart_panels(
    per_call: dict[str, dict[int, float]], builds: dict[str, dict[int, float]]
) -> list[charts.Panel]:
    """p50 per call (µs) and its ratio to one instance's, against the goal; build times."""
    panels: list[charts.Panel] = []
    if per_call:
        micros = {name: {n: v * 1e6 for n, v in p50.items()} for name, p50 in per_call.items()}
        ratios = {
            name: {n: v / p50[SIZES[0]] for n, v in p50.items()} for name, p50 in per_call.items()
        }
        panels.append(
            charts.CurvePanel("p50 per call", micros, "instances", "p50 per call, µs", log_y=True)
        )
        panels.append(
            charts.CurvePanel(
                "p50 per call / p50 with one instance",
                ratios,
                "instances",
                "p50 ratio",
                goal=GOAL,
                goal_label=f"goal <= {GOAL}",
            )
        )
    if builds:
        panels.append(
            charts.CurvePanel(
                "building over N instances (median of 3)",
                builds,
                "instances",
                "seconds",
                log_y=True,
                goal=BUILD_GOAL,
                goal_label=f"goal <= {BUILD_GOAL:g} s (factory, 1,000)",
            )
        )
    return panels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="measured calls per size")
    parser.add_argument("--warmup", type=int, default=200, help="at least this many, per size")
    parser.add_argument(
        "--open", type=float, default=1.0, help="share of the group's breakers opened"
    )
    parser.add_argument("--only", choices=("mock", "http", "build"), help="one measurement")
    charts.add_options(parser)
    args = parser.parse_args()

    print(f"sizes {', '.join(f'{s:,}' for s in SIZES)}; {args.calls} sequential calls per size,")
    print("interleaved; warm-up touches every instance")
    per_call: dict[str, dict[int, float]] = {}
    builds: dict[str, dict[int, float]] = {}
    with simulator_process("healthy") as (url,), tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.only in (None, "mock"):
            managers = {s: manager_over(root / f"mock{s}", mock_model(s)) for s in SIZES}
            pools = {s: pool_of(m) for s, m in managers.items()}
            per_call["mock pool"] = measure(pools, args.calls, args.warmup)
            print_table("mock pool, round robin: routing cost", "µs", per_call["mock pool"])
            groups = {s: group_with_open_breakers(m, args.open) for s, m in managers.items()}
            per_call["mock group"] = measure(groups, args.calls, args.warmup)
            print_table(
                "mock group, one echelon, all but one breaker open: routing cost",
                "µs",
                per_call["mock group"],
            )
        if args.only in (None, "http"):
            http = {s: pool_of(manager_over(root / f"http{s}", http_model(url)(s))) for s in SIZES}
            per_call["HTTP pool"] = measure(http, args.calls, args.warmup)
            print_table(
                "HTTP pool on the package's shared clients, one simulator",
                "ms",
                per_call["HTTP pool"],
            )
        if args.only in (None, "build"):
            builds = build_times(root)
    title = f"Scale: {args.calls} sequential calls per size, interleaved; building a factory"
    charts.write(args, title, chart_panels(per_call, builds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
