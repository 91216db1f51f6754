"""Scale: per-call p50 of a polling pool with 1, 100 and 1,000 instances, same run.

Picking an instance should cost the same whatever the pool size, so the p50 of a pool of 100
or 1,000 should stay within 5% of the pool of 1 (goal: ratio at most 1.05). Three measurements:

* mock: every instance is the in-process `mock` provider (no network). A call's cost is then
  the wrapper plus the routing decision plus a trivial model, so any growth with the pool size
  is routing cost, measured directly in microseconds. This is the headline figure.
* http, warm: every instance is an OpenAI-compatible endpoint with its own ChatOpenAI and its
  own HTTP client (1,000 instances = 1,000 clients, one connection each), all served by one
  simulator in a child process. The simulator matches paths by suffix, so instance n uses the
  base URL `<sim>/i<n>/v1`: the server does the same work whatever the pool size. Warm-up sends
  at least one call to every instance, and each client keeps idle connections for 60 s, so
  every call of the measurement reuses an open connection: only routing (and holding many
  clients) can make a difference.
* http, default clients: the same, with the ChatOpenAI the library builds (httpx drops a
  connection idle for 5 s). Round robin revisits each instance of the pool of 1,000 only every
  1,000 of its calls; when that takes longer than 5 s (the run prints the interval), every call
  on that pool opens a new connection. That cost is the connection's, not the routing's, but a
  deployment with many instances and little traffic per instance pays it too.

Pools use round_robin rotation with no health checks running; calls are sequential `invoke`s,
interleaved call by call across the three pools (starting with a different pool each round) so
drift hits them all alike.

    python bench/scale.py [--calls 2000] [--warmup 200] [--only mock|http|http-default]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent))
from infrastructure.llm import PollingPoolManager, PollingPoolWrapper, TaskGroupManager
from infrastructure.llm.providers.chat_models import SameModel

from bench_config import write_config_dir
from sim_process import simulator_process

PROMPT = "Say something short."
SIZES = (1, 100, 1000)
GOAL = 1.05
DEFAULT_KEEPALIVE = 5.0  # seconds httpx (langchain-openai's default client) keeps idle connections
WARM_KEEPALIVE = 60.0

ModelFor = Callable[[int], dict[str, Any]]
Prepare = Callable[[PollingPoolWrapper], None]


@dataclass(frozen=True)
class Measurement:
    """One way of building the pools: their instances, and what to change once built."""

    title: str
    unit: str
    model_for: ModelFor
    prepare: Prepare | None = None
    keepalive: float | None = None  # idle expiry of HTTP connections, None without HTTP


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


def keep_connections_warm(wrapper: PollingPoolWrapper) -> None:
    """Give every instance a ChatOpenAI whose own HTTP client keeps idle connections 60 s.

    Built like the library builds it (retries off, usage in streams), with the OpenAI SDK's
    default HTTP client and connection limits, except for the idle expiry.
    """
    for instance in wrapper.routed_instances():
        limits = httpx.Limits(
            max_connections=1000, max_keepalive_connections=100, keepalive_expiry=WARM_KEEPALIVE
        )
        client = openai.DefaultHttpxClient(limits=limits)
        instance.models = SameModel(
            ChatOpenAI(
                model=instance.model,
                base_url=instance.base_url,
                api_key="sk-bench",
                max_retries=0,
                stream_usage=True,
                http_client=client,
            )
        )


def build_pool(root: Path, model: dict[str, Any]) -> PollingPoolWrapper:
    """One group over the model, one round-robin pool over the group, a fresh manager."""
    groups = {"scale": {"echelon1": {"models": ["m"], "timeout": 30}}}
    pools = {"scale_pool": {"task_groups": ["scale"], "rotation_strategy": "round_robin"}}
    manager = TaskGroupManager.from_config_dir(write_config_dir(root, {"m": model}, groups, pools))
    return PollingPoolWrapper(
        name="scale_pool_wrapper", polling_pool_manager=PollingPoolManager(manager)
    )


def measure(
    pools: dict[int, PollingPoolWrapper], calls: int, warmup: int
) -> tuple[dict[int, list[float]], float]:
    """Per-call latencies per pool size, interleaved call by call; and the wall time."""
    for size, pool in pools.items():
        for _ in range(max(size, warmup)):  # at least one call on every instance
            pool.invoke(PROMPT)
        pool.reset_stats()
    samples: dict[int, list[float]] = {size: [] for size in pools}
    order = list(pools.items())
    started = time.perf_counter()
    for round_number in range(calls):
        shift = round_number % len(order)
        for size, pool in order[shift:] + order[:shift]:
            began = time.perf_counter()
            pool.invoke(PROMPT)
            samples[size].append(time.perf_counter() - began)
    return samples, time.perf_counter() - started


def run(measurement: Measurement, root: Path, calls: int, warmup: int) -> dict[int, list[float]]:
    """Build the three pools, measure them, and check every instance took its share."""
    pools = {size: build_pool(root / f"pool{size}", measurement.model_for(size)) for size in SIZES}
    if measurement.prepare is not None:
        for pool in pools.values():
            measurement.prepare(pool)
    samples, wall = measure(pools, calls, warmup)
    for size, pool in pools.items():
        served = len(pool.get_stats()["per_instance"])
        expected = min(size, calls)
        if served != expected:
            print(f"  warning: pool of {size} served calls on {served} instances, not {expected}")
    largest = max(SIZES)
    if measurement.keepalive is not None and calls >= largest:
        revisit = wall / calls * largest
        verdict = (
            "every connection stays open"
            if revisit < measurement.keepalive
            else "so every call on it opens a new connection"
        )
        print(
            f"  each instance of the pool of {largest:,} was called every {revisit:.2f} s; "
            f"idle connections close after {measurement.keepalive:g} s: {verdict}"
        )
    return samples


def print_table(name: str, unit: str, samples: dict[int, list[float]]) -> bool:
    """p50, mean and ratios to the pool of 1; True when every ratio meets the goal."""
    scale, digits = (1e6, 1) if unit == "µs" else (1e3, 3)
    p50 = {size: statistics.median(values) for size, values in samples.items()}
    print(f"\n{name}")
    print(f"  {'instances':>9} {'p50 ' + unit:>10} {'mean ' + unit:>10} {'p50 ratio':>10}")
    for size, values in samples.items():
        mean = statistics.fmean(values)
        ratio = p50[size] / p50[SIZES[0]]
        print(
            f"  {size:>9,} {p50[size] * scale:10.{digits}f} {mean * scale:10.{digits}f}"
            f" {ratio:10.3f}"
        )
    worst = max(p50[size] / p50[SIZES[0]] for size in SIZES[1:])
    met = worst <= GOAL
    print(f"  goal p50 ratio <= {GOAL}: {'met' if met else 'NOT met'} (worst {worst:.3f})")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="measured calls per pool")
    parser.add_argument("--warmup", type=int, default=200, help="at least this many, per pool")
    parser.add_argument(
        "--only", choices=("mock", "http", "http-default"), help="run one measurement only"
    )
    args = parser.parse_args()

    print(f"pools of {', '.join(f'{s:,}' for s in SIZES)} instances, round_robin;")
    print(f"{args.calls} sequential calls per pool, interleaved; warm-up touches every instance")
    results: dict[str, tuple[str, dict[int, list[float]]]] = {}
    with simulator_process("healthy") as (url,), tempfile.TemporaryDirectory() as tmp:
        measurements = {
            "mock": Measurement("mock provider, in process: routing cost", "µs", mock_model),
            "http": Measurement(
                "HTTP, one simulator in a child process, warm connections (keep-alive 60 s)",
                "ms",
                http_model(url),
                keep_connections_warm,
                WARM_KEEPALIVE,
            ),
            "http-default": Measurement(
                "HTTP, one simulator in a child process, default ChatOpenAI clients",
                "ms",
                http_model(url),
                None,
                DEFAULT_KEEPALIVE,
            ),
        }
        for key, measurement in measurements.items():
            if args.only in (None, key):
                print(f"measuring {key} ...", flush=True)
                samples = run(measurement, Path(tmp) / key, args.calls, args.warmup)
                results[measurement.title] = (measurement.unit, samples)

    for name, (unit, samples) in results.items():
        print_table(name, unit, samples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
